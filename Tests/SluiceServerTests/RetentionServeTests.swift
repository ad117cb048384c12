import Foundation
import Testing
import SluiceConfig
import SluiceServer
import SluiceTesting

/// Retention over HTTP: harmful policies refused.
@Suite("sluice serve retention", .serialized)
struct RetentionServeTests {
    @Test("PUT refuses an interval under 1s, max_bytes under 1MiB, a zero or over-100-year max_age, naming the key; the policy stays")
    func putRefusesHarmfulPolicy() async throws {
        let server = try await LiveServer.start()
        let refused = [
            (#"{"interval":"1us"}"#, "retention.interval"),
            (#"{"interval":"36526d"}"#, "retention.interval"),
            (#"{"max_bytes":1}"#, "retention.max_bytes"),
            (#"{"max_age":{"metric":"0s"}}"#, "retention.max_age.metric"),
            (#"{"max_age":{"window":"36526d"}}"#, "retention.max_age.window"),
            (#"{"tenants":{"site-b":{"max_age":{"metric":"0d"}}}}"#, "retention.tenants.site-b.max_age.metric"),
        ]
        for (body, key) in refused {
            let reply = try await server.request("PUT", "/api/v2/analytics/retention", body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(((reply.json as? [String: Any])?["detail"] as? String)?.contains(key) == true, "\(body): \(reply.body)")
        }
        let policy = try await server.request("GET", "/api/v2/analytics/retention").json as? [String: Any]
        #expect(policy?["interval"] as? String == "5m")
        #expect(policy?["max_bytes"] as? Int == 10 << 30)
        #expect(TestFiles.readString(server.dataDirectory + "/retention.json") == nil, "nothing refused was saved")
        let least = try await server.request("PUT", "/api/v2/analytics/retention", body: #"{"interval":"1s","max_bytes":"1MiB"}"#)
        #expect(least.status == 200, "\(least.body)")
        try await server.stop()
    }

    @Test("a harmful interval in the configuration or in a saved policy stops the server from starting, naming the key")
    func startRefusesHarmfulPolicy() async throws {
        let configured = await #expect(throws: ConfigurationError.self) {
            _ = try await LiveServer.start("retention:\n  interval: 1us\n")
        }
        #expect(configured?.key == "retention.interval")
        let directory = TestFiles.temporaryDirectory("sluice-serve")
        _ = TestFiles.write(directory + "/retention.json", #"{"interval":"1us"}"#)
        let saved = await #expect(throws: (any Error).self) {
            _ = try await LiveServer.start(dataDirectory: directory)
        }
        #expect("\(saved.map { "\($0)" } ?? "")".contains("retention.json: retention.interval"))
    }
}

