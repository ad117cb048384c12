import Foundation
import Testing
import SluiceModel
@testable import SluiceProtocols

/// The snappy block decoder against PyPI `cramjam` (Rust's `snap`): what it compresses
/// decompresses to the original, and on hand-built and mutated blocks the two agree.
@Suite("Snappy blocks decode as cramjam encodes and decodes them")
struct SnappyTests {
    static func decompress(_ bytes: [UInt8], limit: Int = 1 << 24) throws(ProtocolError) -> [UInt8] {
        try bytes.withUnsafeBufferPointer { buffer throws(ProtocolError) in try Snappy.decompress(buffer, limit: limit) }
    }

    /// Writes `[u32 length][bytes]` frames to stdout.
    static let framing = """
        import random, struct, sys, cramjam
        def put(*parts):
            for p in parts:
                sys.stdout.buffer.write(struct.pack("<I", len(p)) + bytes(p))

        """

    /// Inputs of every shape the compressor treats differently: empty, incompressible,
    /// runs (overlapping copies), short periods, text with far repeats, and sizes around the
    /// 64 KiB blocks snappy compresses in. Each is written with its compressed form.
    static let compressedScript = framing + """
        rng = random.Random(12)
        cases = [b"", b"a"]
        for n in [1, 2, 3, 4, 5, 59, 60, 61, 63, 64, 65, 255, 256, 257, 4095, 4096, 65535, 65536, 65537, 131071, 131072, 131073, 200000]:
            cases.append(rng.randbytes(n))
            cases.append(bytes([rng.randrange(4)]) * n)
            cases.append((b"sluice" * (n // 6 + 1))[:n])
        words = [b"http_requests_total", b"job", b"api", b"instance", b"127.0.0.1:9090", b"le", b"0.25", b"__name__"]
        for i in range(150):
            n = rng.choice([10, 100, 1000, 10000, 65530, 65536, 65540, 70000, 140000])
            out = bytearray()
            while len(out) < n:
                r = rng.random()
                if r < 0.4: out += rng.choice(words)
                elif r < 0.6: out += rng.randbytes(rng.randrange(1, 80))
                elif r < 0.8 and out:
                    start = rng.randrange(len(out)); out += out[start:start + rng.randrange(1, 300)]
                else: out += bytes([rng.randrange(256)]) * rng.randrange(1, 500)
            cases.append(bytes(out[:n]))
        for gap in [1000, 2040, 2050, 40000, 65000, 65535, 65536, 70000]:
            block = rng.randbytes(300)
            cases.append(block + rng.randbytes(gap) + block)
        for raw in cases:
            put(raw, cramjam.snappy.compress_raw(raw))
        """

    @Test("whatever cramjam compresses decompresses to the original bytes")
    func roundTripsCramjam() async throws {
        var frames = RemoteWritePeer.Frames(try await RemoteWritePeer.run(Self.compressedScript))
        var count = 0
        while !frames.isAtEnd {
            let raw = frames.frame(), compressed = frames.frame()
            #expect(try Self.decompress(compressed) == raw, "case \(count): \(raw.count) bytes")
            count += 1
        }
        #expect(count > 200)
    }

    /// Blocks built element by element from `format_description.txt`, using the forms snappy's
    /// compressors rarely or never write (4-byte offsets, 3- and 4-byte literal lengths, the
    /// longest 1- and 2-byte offsets, copies that overlap what they write), decoded by cramjam.
    static let handBuiltScript = framing + """
        def varint(n):
            out = bytearray()
            while True:
                b = n & 0x7F; n >>= 7
                if n: out.append(b | 0x80)
                else: out.append(b); return bytes(out)
        # Each element: its bytes and how many output bytes it makes.
        def lit(b, width=0):
            n = len(b) - 1
            if width == 0: return (bytes([n << 2]) + b, len(b))
            return (bytes([(59 + width) << 2]) + n.to_bytes(width, "little") + b, len(b))
        def copy1(length, offset): return (bytes([1 | ((length - 4) << 2) | ((offset >> 8) << 5), offset & 0xFF]), length)
        def copy2(length, offset): return (bytes([2 | ((length - 1) << 2)]) + offset.to_bytes(2, "little"), length)
        def copy4(length, offset): return (bytes([3 | ((length - 1) << 2)]) + offset.to_bytes(4, "little"), length)
        rng = random.Random(7)
        big = rng.randbytes(70000)
        blocks = [
            [lit(b"abcd"), copy4(8, 4)],
            [lit(b"abcd"), copy4(64, 1)],
            [lit(b"x" * 60)],
            [lit(b"y" * 61, 1)],
            [lit(b"hello", 1), lit(b"world", 2), lit(b"!", 3), lit(b"?", 4)],
            [lit(big, 3), copy4(64, 70000), copy2(64, 65535), copy1(11, 2047)],
            [lit(big[:2048], 2), copy1(4, 2047), copy1(11, 1), copy2(1, 2048), copy4(1, 2048)],
            [lit(b"ab"), copy2(64, 2), copy1(5, 3), copy4(33, 7)],
            [lit(rng.randbytes(65536), 2), copy4(64, 65536), copy4(64, 65537)],
        ]
        for elements in blocks:
            block = varint(sum(n for _, n in elements)) + b"".join(b for b, _ in elements)
            put(block, cramjam.snappy.decompress_raw(block))
        """

    @Test("hand-built blocks with every tag form decode as cramjam decodes them")
    func decodesEveryTagForm() async throws {
        var frames = RemoteWritePeer.Frames(try await RemoteWritePeer.run(Self.handBuiltScript))
        var count = 0
        while !frames.isAtEnd {
            let block = frames.frame(), expected = frames.frame()
            #expect(try Self.decompress(block) == expected, "block \(count)")
            count += 1
        }
        #expect(count == 9)
    }

    /// Blocks that break the format at a known byte, built from the format description.
    static let malformed: [(name: String, block: [UInt8], limit: Int, offset: Int, reason: String)] = [
        ("an empty body", [], 100, 0, "empty"),
        ("a preamble that never ends", [0x80, 0x80], 100, 2, "inside the length preamble"),
        ("a preamble of six bytes", [0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 100, 0, "longer than 5 bytes"),
        ("a preamble over 32 bits", [0xFF, 0xFF, 0xFF, 0xFF, 0x1F], 100, 0, "over 32 bits"),
        ("a copy with offset 0", [0x05, 0x00, 0x61, 0x01, 0x00], 100, 3, "offset 0"),
        ("a copy before the start", [0x06, 0x04, 0x61, 0x62, 0x06, 0x03, 0x00], 100, 4, "before the start of the output (2 bytes written)"),
        ("a 4-byte offset before the start", [0x05, 0x00, 0x61, 0x0F, 0x00, 0x00, 0x01, 0x00], 100, 3, "before the start"),
        ("a literal past the end of the body", [0x05, 0x10, 0x61, 0x62], 100, 1, "runs past the end of the body"),
        ("a literal past the stated length", [0x01, 0x04, 0x61, 0x62], 100, 1, "runs past the 1 bytes the preamble states"),
        ("a copy past the stated length", [0x03, 0x00, 0x61, 0x0A, 0x01, 0x00], 100, 3, "runs past the 3 bytes"),
        ("a block shorter than it states", [0x05, 0x04, 0x61, 0x62], 100, 4, "ends after 2 of the 5 bytes"),
        ("a copy cut off in its offset", [0x05, 0x00, 0x61, 0x0E, 0x01], 100, 3, "ends inside the element"),
        ("a literal length cut off", [0x05, 0xF4, 0x01], 100, 1, "ends inside the element"),
        ("bytes after the stated output", [0x01, 0x00, 0x61, 0x00, 0x62], 100, 3, "runs past the 1 bytes"),
    ]

    @Test("malformed blocks are refused with the byte offset and the reason")
    func refusesMalformed() {
        for c in Self.malformed {
            let error = #expect(throws: ProtocolError.self, "\(c.name)") { try Self.decompress(c.block, limit: c.limit) }
            #expect(error?.message.hasPrefix("invalid snappy at byte \(c.offset):") == true, "\(c.name): \(error?.message ?? "")")
            #expect(error?.message.contains(c.reason) == true, "\(c.name): \(error?.message ?? "")")
        }
    }

    @Test("a block stating more than the limit is refused before anything is allocated")
    func refusesOverLimit() throws {
        // 4 GiB - 1 stated by five bytes: refused by the stated length alone.
        let error = #expect(throws: ProtocolError.self) { try Self.decompress([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x61], limit: 1 << 20) }
        #expect(error?.message == "the snappy body states 4294967295 bytes uncompressed, over the body limit of 1048576 bytes")
        #expect(try Self.decompress([0x01, 0x00, 0x61], limit: 1) == [0x61])
        #expect(throws: ProtocolError.self) { try Self.decompress([0x02, 0x04, 0x61, 0x61], limit: 1) }
    }

    /// Mutations of compressed blocks, each with cramjam's verdict: `o` and its output, `e`
    /// for an error, or `l` when the block states more than 4 MiB (not handed to cramjam,
    /// which would allocate it). Preambles longer than 5 bytes are left out: the reference
    /// C++ decoder refuses them and `snap` reads them, so there is no one answer to agree on.
    static let differentialScript = compressedScript.replacingOccurrences(of: "    put(raw, cramjam.snappy.compress_raw(raw))", with: "    seeds.append(bytes(cramjam.snappy.compress_raw(raw)))")
        .replacingOccurrences(of: "for raw in cases:", with: "seeds = []\nfor raw in cases:") + "\n" + """
        seeds = [s for s in seeds if len(s) < 5000] + seeds[:20]
        def preamble(b):
            n = 0
            for i in range(min(len(b), 10)):
                n |= (b[i] & 0x7F) << (7 * i)
                if b[i] & 0x80 == 0: return (n, i + 1)
            return (None, 11)
        rng = random.Random(99)
        made = 0
        while made < 4000:
            b = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                k = rng.randrange(5)
                if k == 0 and b: b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                elif k == 1: b = b[:rng.randrange(len(b) + 1)]
                elif k == 2 and b: b[rng.randrange(len(b))] = rng.randrange(256)
                elif k == 3:
                    o = rng.choice(seeds); b = b[:rng.randrange(len(b) + 1)] + o[rng.randrange(len(o) + 1):]
                else:
                    at = rng.randrange(len(b) + 1); b[at:at] = rng.randbytes(rng.randrange(1, 8))
            b = bytes(b)
            n, width = preamble(b)
            if width > 5 and n is not None: continue
            made += 1
            if n is not None and n > (4 << 20):
                sys.stdout.buffer.write(b"l"); put(b, b"")
                continue
            try:
                out = cramjam.snappy.decompress_raw(b)
                sys.stdout.buffer.write(b"o"); put(b, out)
            except Exception:
                sys.stdout.buffer.write(b"e"); put(b, b"")
        """

    @Test("on 4,000 mutated blocks the decoder and cramjam agree: the same bytes, or both refuse")
    func agreesWithCramjamOnMutations() async throws {
        var frames = RemoteWritePeer.Frames(try await RemoteWritePeer.run(Self.differentialScript))
        var verdicts: [UInt8: Int] = [:]
        while !frames.isAtEnd {
            let verdict = frames.byte()
            let block = frames.frame(), expected = frames.frame()
            verdicts[verdict, default: 0] += 1
            let ours = Result { () throws(ProtocolError) in try Self.decompress(block, limit: 4 << 20) }
            switch (verdict, ours) {
            case (UInt8(ascii: "o"), .success(let out)):
                #expect(out == expected, "block \(block.prefix(16))…: different bytes")
            case (UInt8(ascii: "e"), .failure), (UInt8(ascii: "l"), .failure):
                break
            default:
                Issue.record("cramjam says \(Character(UnicodeScalar(verdict))), the decoder says \(ours.map(\.count)) for \(block.prefix(24))")
            }
        }
        #expect(verdicts.values.reduce(0, +) == 4000)
        // Both kinds are exercised, not only refusals.
        #expect(verdicts[UInt8(ascii: "o"), default: 0] > 100, "\(verdicts)")
        #expect(verdicts[UInt8(ascii: "e"), default: 0] > 100, "\(verdicts)")
    }

    @Test("fuzz: 30,000 mutated blocks decode to their stated length or fail with a reason, never crash")
    func fuzz() async throws {
        var seeds: [[UInt8]] = []
        var frames = RemoteWritePeer.Frames(try await RemoteWritePeer.run(Self.compressedScript))
        while !frames.isAtEnd {
            _ = frames.frame()
            let compressed = frames.frame()
            if compressed.count < 2048 { seeds.append(compressed) }
        }
        var mutator = RemoteWriteMutator(seed: 0x5EED_5A99)
        var decoded = 0, refused = 0
        for i in 0..<30_000 {
            let input = mutator.mutate(seeds[i % seeds.count], corpus: seeds)
            do throws(ProtocolError) {
                let out = try Self.decompress(input, limit: 1 << 20)
                let (stated, _) = try input.withUnsafeBufferPointer { b throws(ProtocolError) in try Snappy.preamble(b) }
                #expect(UInt64(out.count) == stated)
                decoded += 1
            } catch {
                #expect(error.message.hasPrefix("invalid snappy at byte ") || error.message.contains("over the body limit"), "\(error.message)")
                refused += 1
            }
        }
        #expect(decoded + refused == 30_000)
        #expect(decoded > 500 && refused > 500, "decoded \(decoded), refused \(refused)")
    }
}
