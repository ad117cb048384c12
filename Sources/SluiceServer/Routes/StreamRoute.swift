import AsyncAlgorithms
import Hummingbird
import SluiceModel

/// `GET /api/v2/analytics/stream?tenant=&types=`: output records as Server-Sent Events, with
/// a heartbeat comment every 15 s so proxies keep the connection.
///
/// Generic over the clock that paces the heartbeats, so tests drive them: the server passes
/// `ContinuousClock()`.
struct StreamRoute<C: Clock>: Sendable where C.Duration == Duration {
    let state: ServerState
    let clock: C
    var heartbeat: Duration = .seconds(15)

    enum Item: Sendable {
        case record(OutputRecord)
        case heartbeat
        case end
    }

    func handle(_ request: Request, _ context: SluiceRequestContext) async throws -> Response {
        let tenant = try QueryRoutes.tenant(request, context)
        let types = request.uri.queryParameters.get("types").map { Set($0.split(separator: ",").map(String.init)) }
        let known = ["window", "cache_window", "visits_window", "anomaly", "token_usage", "budget_alert", "budget_forecast"]
        if let types, types.isEmpty {
            throw APIError.badRequest("types is empty; expected a comma-separated list of \(known.joined(separator: ", "))")
        }
        if let unknown = types?.subtracting(known).sorted().first {
            throw APIError.badRequest("types: unknown type \(unknown); expected a comma-separated list of \(known.joined(separator: ", "))")
        }
        let subscription = state.broadcast.subscribe(.init(tenants: tenant.map { [$0] }, types: types))
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: Self.events(subscription, heartbeat: heartbeat, clock: clock))
    }

    /// The response body: each record of `subscription` as an event, and a heartbeat every
    /// `heartbeat` of `clock` (saying how many records were dropped since the last one), until
    /// the subscription ends.
    static func events(_ subscription: BroadcastSink.Subscription, heartbeat: Duration, clock: C) -> ResponseBody {
        ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": sluice stream\n\n"))
            let items = merge(chain(subscription.records.map { Item.record($0) }, [Item.end].async),
                              AsyncTimerSequence(interval: heartbeat, clock: clock).map { _ in Item.heartbeat })
            loop: for await item in items {
                switch item {
                case .end:
                    break loop
                case .record(let record):
                    var json = JSONWriter()
                    record.write(to: &json)
                    var event = Array("event: \(record.typeName)\ndata: ".utf8)
                    event += json.bytes.dropLast()
                    event += Array("\n\n".utf8)
                    try await writer.write(ByteBuffer(bytes: event))
                case .heartbeat:
                    let dropped = subscription.takeDropped()
                    let note = dropped > 0 ? ": heartbeat; \(dropped) records dropped because this client read too slowly\n\n" : ": heartbeat\n\n"
                    try await writer.write(ByteBuffer(string: note))
                }
            }
            try await writer.finish(nil)
        }
    }
}
