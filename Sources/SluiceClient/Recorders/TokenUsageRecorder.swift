/// LLM token usage, one `token_usage` record per call (design §2), in the manner of LiteLLM's
/// and Langfuse's callbacks.
///
/// The request id is the server's idempotency key for token usage: report a retried or
/// repeated call with the same id and Sluice counts it once, so totals stay exact.
public struct TokenUsageRecorder: Sendable {
    private let client: SluiceClient
    public let tenant: String

    /// - Parameter tenant: the tenant billed; the client's by default. Token usage always
    ///   belongs to a tenant.
    public init(client: SluiceClient, tenant: String? = nil) {
        guard let tenant = tenant ?? client.configuration.tenant else {
            preconditionFailure("token usage belongs to a tenant: set SluiceClient.Configuration.tenant or pass tenant:")
        }
        self.client = client
        self.tenant = tenant
    }

    /// Reports one call. Without a `requestID` a random one is made, so the call is counted
    /// once however often its batch is retried.
    public func record(
        model: String, promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0,
        requestID: String? = nil, labels: Labels = .empty
    ) async {
        let id = requestID ?? Self.makeRequestID()
        await client.record(.tokenUsage(TokenUsageRecord(
            timestamp: .now(), tenantID: tenant, labels: labels, model: model,
            promptTokens: UInt64(Swift.max(promptTokens, 0)), completionTokens: UInt64(Swift.max(completionTokens, 0)),
            cachedTokens: UInt64(Swift.max(cachedTokens, 0)), requestID: id)))
    }

    /// A new random request id, for calls that come without one.
    public static func makeRequestID() -> String {
        var random = SystemRandomNumberGenerator()
        return "req-" + String(random.next(), radix: 36) + String(random.next(), radix: 36)
    }
}
