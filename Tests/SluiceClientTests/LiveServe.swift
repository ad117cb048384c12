import Foundation
import SluiceClient
import SluiceServerTesting
import SluiceStore

/// A live `sluice serve` for the client, and what it stored once stopped.
extension LiveServer {
    var url: String { "http://127.0.0.1:\(bound.http!)" }

    /// Stops the server (its windows are flushed to the store) and reads every raw record of
    /// `kinds` it stored: exactly what the client delivered, each once.
    func storedRecords(_ kinds: Set<StoredRecord.Kind>) async throws -> [Record] {
        try await stop()
        var out: [Record] = []
        try StoreReader(directory: try DataDirectory(path: dataDirectory, create: false)).forEach(StoreQuery(kinds: kinds)) { stored in
            if case .record(let record) = stored { out.append(record) }
        }
        return out
    }
}

extension SluiceClient {
    /// A client of `server` that flushes often, so that a test spans many intervals.
    static func live(_ server: LiveServer, tenant: String = "shop", batchSize: Int = 200, capacity: Int = 2_000,
                     transport: (any SluiceTransport)? = nil) -> SluiceClient {
        SluiceClient(configuration: .init(url: server.url, tenant: tenant, flushInterval: .milliseconds(20), batchSize: batchSize,
                                          bufferCapacity: capacity, shutdownTimeout: .seconds(600)),
                     transport: transport)
    }

    /// Runs the client around `body`, then shuts it down gracefully: everything is delivered
    /// when this returns.
    func running(_ body: () async throws -> Void) async throws {
        let task = Task { try await run() }
        do {
            try await body()
        } catch {
            shutdown()
            _ = try? await task.value
            throw error
        }
        shutdown()
        try await task.value
        let statistics = statistics
        if statistics.dropped > 0 || statistics.rejected > 0 { throw ClientLost(statistics: statistics) }
    }

    struct ClientLost: Error, CustomStringConvertible {
        var statistics: Statistics
        var description: String { "the client did not deliver everything: \(statistics)" }
    }
}
