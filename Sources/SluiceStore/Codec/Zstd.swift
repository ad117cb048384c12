import CZstd
import Synchronization

/// libzstd, one-shot, with the frame checksum on (a second line of defence behind the block CRC).
enum Zstd {
    /// A compression context and a buffer to compress into, kept from one frame to the next so
    /// that neither is allocated (and faulted in) again for every block. Its frames are those of a
    /// fresh context: the context is reset before each. One frame at a time; a caller that
    /// overlaps waits.
    final class Compressor: Sendable {
        private let state: Mutex<State>

        /// Owns the libzstd context; only the mutex reaches it.
        private final class State {
            let context: OpaquePointer
            var buffer: [UInt8] = []
            init(_ context: OpaquePointer) { self.context = context }
            deinit { ZSTD_freeCCtx(context) }
        }

        init() throws(StoreError) {
            guard let context = ZSTD_createCCtx() else { throw .io("zstd: cannot allocate a compression context") }
            state = Mutex(State(context))
        }

        /// Compresses `input` as one frame and appends it to `output`, growing that by exactly
        /// its length; returns the length.
        func compress(_ input: [UInt8], level: Int32, appendingTo output: inout [UInt8]) throws(StoreError) -> Int {
            try state.withLock { state throws(StoreError) -> Int in
                let bound = ZSTD_compressBound(input.count)
                if state.buffer.count < bound { state.buffer = [UInt8](repeating: 0, count: bound) }
                let c = state.context
                ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters)
                ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
                ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)
                let written = state.buffer.withUnsafeMutableBytes { out in
                    input.withUnsafeBytes { ZSTD_compress2(c, out.baseAddress, bound, $0.baseAddress, $0.count) }
                }
                if ZSTD_isError(written) != 0 { throw .io("zstd: \(String(cString: ZSTD_getErrorName(written)))") }
                output.reserveCapacity(output.count + written)
                output += state.buffer[0..<written]
                return written
            }
        }
    }

    static func compress(_ input: [UInt8], level: Int32) throws(StoreError) -> [UInt8] {
        let compressor = try Compressor()
        var output: [UInt8] = []
        _ = try compressor.compress(input, level: level, appendingTo: &output)
        return output
    }

    /// Decompresses a frame whose content size is `expected` bytes.
    static func decompress(_ input: ArraySlice<UInt8>, expected: Int) throws(StoreError) -> [UInt8] {
        // The writer's frames state their size; a frame that states another (or none) is refused
        // before a damaged block header makes the reader allocate up to its 1 GiB limit.
        let stated = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard stated == UInt64(expected) else {
            throw .corrupt("zstd frame does not state the \(expected) bytes the block header says it holds")
        }
        var output = [UInt8](repeating: 0, count: expected)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_decompress(out.baseAddress, expected, inp.baseAddress, inp.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw .corrupt("zstd: \(String(cString: ZSTD_getErrorName(written)))") }
        guard written == expected else { throw .corrupt("zstd frame holds \(written) bytes, expected \(expected)") }
        return output
    }
}
