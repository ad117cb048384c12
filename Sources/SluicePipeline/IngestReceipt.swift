/// What a request with an `Idempotency-Key` was answered (design §5), kept with its records.
///
/// The segment writer puts a receipt in the same block as the records it answers for, so a
/// crash keeps both or neither: after a restart the key is known exactly when its records are
/// stored, and a retry is answered from the receipt instead of being ingested again.
public struct IngestReceipt: Sendable, Hashable {
    /// Whose key it is: a tenant's id, or `IngestReceipt.adminScope` for an admin token.
    public var scope: String
    /// The client's `Idempotency-Key`.
    public var key: String
    /// When the request was taken, µs since the epoch (wall clock): keys expire by it.
    public var time: Int64
    /// The first answer: status, media type and body, returned again to every retry.
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(scope: String, key: String, time: Int64, status: Int, contentType: String, body: [UInt8]) {
        self.scope = scope
        self.key = key
        self.time = time
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// The scope of keys sent with an admin token (no tenant id can be empty).
    public static let adminScope = ""
}
