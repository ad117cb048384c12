/// `ExportTraceServiceRequest` and what it holds (`trace.proto`).
extension OTLPProtobuf {
    /// `ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }`
    static func tracesRequest(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProtocolError) -> OTLP.TracesRequest {
        var request = OTLP.TracesRequest()
        var reader = ProtobufReader(bytes)
        while let f = try reader.next() {
            if f.number == 1 { request.resources.append(try resourceSpans(f)) }
        }
        return request
    }

    /// `ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }`
    static func resourceSpans(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.ResourceSpans {
        var resource = OTLP.ResourceSpans()
        try fields(field, "resource_spans") { f throws(ProtocolError) in
            switch f.number {
            case 1: resource.attributes += try self.resource(f)
            case 2:
                // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
                var scope = OTLP.ScopeSpans()
                try fields(f, "scope_spans") { g throws(ProtocolError) in
                    switch g.number {
                    case 1: scope.scope = try self.scope(g)
                    case 2: scope.spans.append(try span(g))
                    default: break
                    }
                }
                resource.scopes.append(scope)
            default: break
            }
        }
        return resource
    }

    /// `Span { bytes trace_id = 1; bytes span_id = 2; string name = 5; SpanKind kind = 6;
    /// fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; }`
    static func span(_ field: ProtobufReader.Field) throws(ProtocolError) -> OTLP.Span {
        var span = OTLP.Span()
        try fields(field, "spans") { f throws(ProtocolError) in
            switch f.number {
            case 1: try f.expect(.lengthDelimited, "trace_id"); span.traceID = Array(f.bytes)
            case 2: try f.expect(.lengthDelimited, "span_id"); span.spanID = Array(f.bytes)
            case 5: try f.expect(.lengthDelimited, "name"); span.name = f.string
            case 6: span.kind = Int64(bitPattern: try varint(f, "kind"))
            case 7: span.startTime = try fixed64(f, "start_time_unix_nano")
            case 8: span.endTime = try fixed64(f, "end_time_unix_nano")
            case 9: span.attributes.append(try keyValue(f))
            default: break
            }
        }
        return span
    }
}
