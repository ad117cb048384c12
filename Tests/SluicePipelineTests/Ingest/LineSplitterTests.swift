import Testing
@testable import SluicePipeline

@Suite("Line splitter")
struct LineSplitterTests {
    enum Seen: Equatable { case line(String, Int), tooLong(Int, Int) }

    /// What the splitter hands over for `bytes` fed in chunks of `chunk` bytes.
    func feed(_ bytes: [UInt8], chunk: Int, limit: Int = 1 << 20) -> [(line: [UInt8]?, length: Int, number: Int)] {
        var splitter = LineSplitter(maximumLineBytes: limit)
        var seen: [(line: [UInt8]?, length: Int, number: Int)] = []
        let collect: (LineSplitter.Line) -> Void = { line in
            switch line {
            case .line(let l, let n): seen.append((Array(l), l.count, n))
            case .tooLong(let length, let n): seen.append((nil, length, n))
            }
        }
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            bytes[offset..<end].withUnsafeBufferPointer { splitter.feed($0, collect) }
            offset = end
        }
        splitter.finish(collect)
        return seen
    }

    func split(_ text: String, chunk: Int, limit: Int = 1 << 20) -> [Seen] {
        feed(Array(text.utf8), chunk: chunk, limit: limit).map { seen in
            seen.line.map { .line(String(decoding: $0, as: UTF8.self), seen.number) } ?? .tooLong(seen.length, seen.number)
        }
    }

    @Test("lines and their numbers do not depend on where chunks are cut")
    func everyCut() {
        let text = "alpha\nbe\r\n\ngamma-delta\nlast"
        let expected: [Seen] = [.line("alpha", 1), .line("be", 2), .line("", 3), .line("gamma-delta", 4), .line("last", 5)]
        for chunk in 1...text.utf8.count {
            #expect(split(text, chunk: chunk) == expected, "chunk \(chunk)")
        }
    }

    @Test("a line over the limit is skipped and reported once with its length; the next line survives")
    func oversize() {
        let long = String(repeating: "x", count: 50)
        for chunk in [1, 7, 64] {
            #expect(split("ok\n\(long)\nafter\n", chunk: chunk, limit: 10) == [.line("ok", 1), .tooLong(50, 2), .line("after", 3)])
            #expect(split("\(long)", chunk: chunk, limit: 10) == [.tooLong(50, 1)])
        }
    }

    /// The raw lines of `bytes` fed in chunks of `chunk` bytes.
    func lines(_ bytes: [UInt8], chunk: Int) -> [[UInt8]] {
        feed(bytes, chunk: chunk).compactMap(\.line)
    }

    @Test("a byte order mark at the start of the stream is skipped, wherever chunks are cut")
    func byteOrderMark() {
        let text = "\u{FEFF}alpha\nbeta"
        for chunk in 1...text.utf8.count {
            #expect(split(text, chunk: chunk) == [.line("alpha", 1), .line("beta", 2)], "chunk \(chunk)")
        }
        #expect(split("\u{FEFF}", chunk: 1).isEmpty)
        // Anywhere else, and a second one, it stays in its line for the decoder to refuse.
        #expect(split("alpha\n\u{FEFF}beta", chunk: 3) == [.line("alpha", 1), .line("\u{FEFF}beta", 2)])
        #expect(split("\u{FEFF}\u{FEFF}alpha", chunk: 2) == [.line("\u{FEFF}alpha", 1)])
    }

    @Test("bytes that only begin like a byte order mark stay in line 1")
    func partialByteOrderMark() {
        let streams: [([UInt8], [[UInt8]])] = [
            ([0xEF], [[0xEF]]),
            ([0xEF, 0xBB], [[0xEF, 0xBB]]),
            ([0xEF, 0xBB, 0x41, 0x0A, 0x42], [[0xEF, 0xBB, 0x41], [0x42]]),
            ([0xEF, 0x0A, 0x42], [[0xEF], [0x42]]),
            ([0x0A, 0xEF, 0xBB, 0xBF], [[], [0xEF, 0xBB, 0xBF]]),
        ]
        for (stream, expected) in streams {
            for chunk in 1...stream.count {
                #expect(lines(stream, chunk: chunk) == expected, "\(stream) in chunks of \(chunk)")
            }
        }
    }
}
