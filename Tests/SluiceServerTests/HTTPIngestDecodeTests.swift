import Testing
import SluiceModel
@testable import SluiceServer

/// How an ingest request's body is cut into records, without a server.
@Suite("HTTP ingest body")
struct HTTPIngestDecodeTests {
    let decoder = NDJSONDecoder()
    let record = #"{"metric_name":"m","value":1,"timestamp":0}"#

    @Test("a byte order mark may open a JSON array or an NDJSON body")
    func byteOrderMark() throws {
        for (body, ndjson) in [("[\(record), \(record)]", false), ("\(record)\n\(record)\n", true), ("\(record)\n\(record)", false)] {
            let (records, rejected) = try HTTPIngest.decode([0xEF, 0xBB, 0xBF] + Array(body.utf8), ndjson: ndjson, decoder: decoder)
            #expect(records.count == 2, "\(body)")
            #expect(rejected.isEmpty, "\(body)")
        }
    }

    @Test("an array element with invalid UTF-8 is refused on its own; the others are kept")
    func invalidElement() throws {
        let bad = Array(#"{"metric_name":"m"#.utf8) + [0xFF] + Array(#"","value":1,"timestamp":0}"#.utf8)
        let body = Array("[\(record),".utf8) + bad + Array(",\(record)]".utf8)
        let (records, rejected) = try HTTPIngest.decode(body, ndjson: false, decoder: decoder)
        #expect(records.count == 2)
        #expect(rejected.map(\.line) == [2])
        #expect(rejected.first?.reason.contains("invalid UTF-8") == true)
    }
}
