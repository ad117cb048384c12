import Testing
import SluiceModel
import SluicePipeline

/// How the ingest edge cuts a message (an HTTP body, a datagram) or a stream into records:
/// the same rules for every source.
@Suite("Ingest decoder")
struct IngestDecoderTests {
    let record = #"{"metric_name":"m","value":1,"timestamp":0}"#

    func decode(_ bytes: [UInt8], arrays: Bool) -> DecodedBatch? {
        bytes.withUnsafeBufferPointer { try? IngestDecoder.decode(message: $0, arrays: arrays, decoder: .init(), now: nil, source: nil).get() }
    }

    @Test("a byte order mark may open a JSON array or an NDJSON body")
    func byteOrderMark() throws {
        for (body, arrays) in [("[\(record), \(record)]", true), ("\(record)\n\(record)\n", false), ("\(record)\n\(record)", true)] {
            let batch = try #require(decode([0xEF, 0xBB, 0xBF] + Array(body.utf8), arrays: arrays))
            #expect(batch.records.count == 2, "\(body)")
            #expect(batch.rejections.isEmpty, "\(body)")
        }
    }

    @Test("an array element with invalid UTF-8 is refused on its own, numbered by element; the others are kept")
    func invalidElement() throws {
        let bad = Array(#"{"metric_name":"m"#.utf8) + [0xFF] + Array(#"","value":1,"timestamp":0}"#.utf8)
        let body = Array("[\(record),".utf8) + bad + Array(",\(record)]".utf8)
        let batch = try #require(decode(body, arrays: true))
        #expect(batch.records.count == 2)
        #expect(batch.rejections.map(\.line) == [2])
        #expect(batch.rejections.first?.error.message.contains("invalid UTF-8") == true)
    }

    @Test("blank lines, CRLF and a split BOM give the same records and line numbers whatever the chunking")
    func chunkingDoesNotMatter() throws {
        let text = "\u{FEFF}\(record)\r\n\r\n   \n{\"metric_name\":}\r\n\(record)"
        let bytes = Array(text.utf8)
        for size in 1...bytes.count {
            var decoder = IngestDecoder(decoder: .init())
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + size)
                bytes[start..<end].withUnsafeBufferPointer { decoder.feed($0, now: nil, source: "s") }
                start = end
            }
            decoder.finish(now: nil, source: "s")
            let batch = decoder.take()
            #expect(batch.records.count == 2, "chunks of \(size)")
            #expect(batch.rejections.map(\.line) == [4], "chunks of \(size)")
        }
    }

    @Test("strict stops at the first bad line and decodes nothing after it")
    func strict() {
        var decoder = IngestDecoder(decoder: .init(), strict: true)
        Array("\(record)\nnot json\n\(record)\n".utf8).withUnsafeBufferPointer { decoder.feed($0, now: nil, source: nil) }
        #expect(decoder.stopped?.line == 2)
        #expect(decoder.take().records.count == 1)
    }
}
