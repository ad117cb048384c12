import SluiceModel

/// What every protocol decoder needs besides the bytes: whose records these are, the time for
/// records that carry none, and the limits of design §2. One set of rules for all protocols,
/// so a sample is the same record whichever way it came.
public struct ProtocolContext: Sendable {
    /// The tenant of records whose data names none: the token's tenant, `X-Scope-OrgID`, or a
    /// StatsD listener's `tenant`. `nil`: platform-wide.
    public var tenantID: String?
    /// Event time for records without a timestamp (StatsD).
    public var now: Timestamp
    /// Labels a record may carry (`ingest.max_labels`).
    public var maximumLabels: Int
    /// Longest line of a text protocol (`ingest.max_line_bytes`).
    public var maximumLineBytes: Int

    public init(tenantID: String?, now: Timestamp, maximumLabels: Int = 30, maximumLineBytes: Int = 1 << 20) {
        self.tenantID = tenantID
        self.now = now
        self.maximumLabels = maximumLabels
        self.maximumLineBytes = maximumLineBytes
    }

    public init(tenantID: String?, now: Timestamp, decoder: NDJSONDecoder.Configuration) {
        self.init(tenantID: tenantID, now: now, maximumLabels: decoder.maximumLabels, maximumLineBytes: decoder.maximumLineBytes)
    }

    /// The label (attribute, tag) that names a record's tenant, as the NDJSON field does.
    public static let tenantLabel = "tenant_id"

    /// Splits a protocol's attributes into the record's tenant and labels (design §10): a
    /// `tenant_id` attribute names the tenant and is not a label; without one the context's
    /// tenant applies. The ingest edge then refuses a tenant the token may not write for.
    public func tenantAndLabels(_ pairs: [Labels.Label]) -> Result<(tenant: String?, labels: Labels), DecodeError> {
        var tenant = tenantID
        var kept: [Labels.Label] = []
        kept.reserveCapacity(pairs.count)
        for pair in pairs {
            if pair.key == Self.tenantLabel {
                if let problem = TenantID.problem(pair.value) { return .failure(DecodeError(.badTenant, problem)) }
                tenant = pair.value
            } else {
                kept.append(pair)
            }
        }
        let labels = Labels(kept)
        if labels.count > maximumLabels {
            return .failure(DecodeError(.tooManyLabels, "more than \(maximumLabels) labels (\(labels.count))"))
        }
        return .success((tenant, labels))
    }

    /// Checks a sample's value and time as design §2 does for NDJSON.
    public func check(value: Double, time: Timestamp) -> DecodeError? {
        if !value.isFinite { return DecodeError(.nonFinite, "value \(value) is not a finite number") }
        if !time.isRepresentable { return DecodeError(.badTimestamp, "timestamp \(time.microseconds) µs is outside years 0000 to 9999") }
        return nil
    }
}

extension Timestamp {
    /// A protocol's integer time in nanoseconds (OTLP, Influx): microseconds, rounded down.
    public init(nanoseconds: Int64) {
        // Floor division that cannot overflow, down to Int64.min.
        let quotient = nanoseconds / 1000
        self.init(microseconds: nanoseconds % 1000 < 0 ? quotient - 1 : quotient)
    }
}
