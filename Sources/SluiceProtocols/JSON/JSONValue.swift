#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON document as a tree, for protocols whose JSON is nested too deeply to read
/// field by field (OTLP/JSON). Every value remembers the byte offset it starts at, so that an
/// error found while mapping the tree can still name its place in the body.
public struct JSONValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        /// A number, kept as its literal text so that an int64 is read exactly and a double
        /// is rounded once, correctly.
        case number(JSONNumber)
        case string(String)
        case array([JSONValue])
        /// Members in document order; a key may repeat (the last one wins when looked up).
        case object([Member])
    }

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
    }

    public var kind: Kind
    /// Where the value starts in the document.
    public var offset: Int

    /// The value of member `key` of an object (the last one when it repeats), or `nil`.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = kind else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// What the value is, for error messages ("expected a number, found a string").
    public var typeName: String {
        switch kind {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON number's literal text (already checked against the JSON grammar).
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    public let text: String

    public var description: String { text }

    /// The double nearest to the literal, rounded once as `strtod` does.
    public var double: Double {
        text.withCString { strtod($0, nil) }
    }

    /// The literal as a signed 64-bit integer: `nil` when it has a fraction or an exponent, or
    /// does not fit.
    public var int64: Int64? { Int64(text, radix: 10) }

    /// The literal as an unsigned 64-bit integer: `nil` when it is negative, has a fraction or
    /// an exponent, or does not fit.
    public var uint64: UInt64? { UInt64(text, radix: 10) }
}
