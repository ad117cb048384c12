import CZstd

/// libzstd, one-shot, with the frame checksum on (a second line of defence behind the block CRC).
enum Zstd {
    static func compress(_ input: [UInt8], level: Int32) throws(StoreError) -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw .io("zstd: cannot allocate a compression context") }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { inp in
                ZSTD_compress2(context, out.baseAddress, bound, inp.baseAddress, inp.count)
            }
        }
        if ZSTD_isError(written) != 0 { throw .io("zstd: \(String(cString: ZSTD_getErrorName(written)))") }
        output.removeSubrange(written...)
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
