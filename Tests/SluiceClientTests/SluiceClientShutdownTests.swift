import Synchronization
import Testing
import SluiceTesting
@testable import SluiceClient

/// Graceful shutdown while the flush timer sleeps: `run()` returns normally, after sending
/// what was buffered. (The timer's sleep ends in `CancellationError` when it is stopped; that is
/// not a failure of the client, and a `ServiceGroup` would exit non-zero on it.)
@Suite("SluiceClient: graceful shutdown")
struct SluiceClientShutdownTests {
    /// Takes every request and counts its records.
    final class CountingTransport: SluiceTransport {
        let records = Mutex(0)
        func send(_ request: SluiceRequest) async throws -> SluiceResponse {
            records.withLock { $0 += request.records }
            return SluiceResponse(status: 202, body: #"{"accepted":\#(request.records)}"#)
        }
    }

    @Test("shutdown during the flush interval: run() returns without an error, and the buffered records were sent")
    func shutdownWhileTimerSleeps() async throws {
        let clock = ManualClock()
        let transport = CountingTransport()
        let client = SluiceClient(configuration: .init(tenant: "shop", flushInterval: .seconds(60)), transport: transport, clock: clock)
        for value in 0..<3 {
            await client.record(.metric(MetricRecord(timestamp: Timestamp(seconds: 1_796_032_800), tenantID: "shop", name: "orders", value: Double(value))))
        }
        let running = Task { try await client.run() }
        // The timer is asleep for its 60 s; nothing has been sent.
        await clock.sleepers(atLeast: 1)
        #expect(transport.records.withLock { $0 } == 0)

        client.shutdown()
        try await running.value
        #expect(transport.records.withLock { $0 } == 3)
        #expect(client.statistics.sent == 3)
        #expect(client.statistics.dropped == 0)
    }
}
