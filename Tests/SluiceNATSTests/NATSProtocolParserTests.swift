import Testing
@testable import SluiceNATS

/// The parser against the wire text of the client protocol's documentation, whole and cut at
/// every byte, and against what a server must never send.
@Suite("NATS protocol parser")
struct NATSProtocolParserTests {
    /// A server's stream, as the protocol documentation spells each operation, and what each
    /// must read as. Case and separators vary as the grammar allows.
    static let stream: [(String, NATSServerOperation)] = {
        let binary = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        return [
            (#"INFO {"server_id":"S1","version":"2.9.10","headers":true,"max_payload":1048576,"jetstream":true}"# + "\r\n",
             .info(Array(#"{"server_id":"S1","version":"2.9.10","headers":true,"max_payload":1048576,"jetstream":true}"#.utf8))),
            ("PING\r\n", .ping),
            ("pong\r\n", .pong),
            ("+OK\r\n", .ok),
            ("-ERR 'Unknown Protocol Operation'\r\n", .error("Unknown Protocol Operation")),
            ("MSG FOO.BAR 9 11\r\nHello World\r\n",
             .message(NATSMessage(subject: "FOO.BAR", sid: 9, replyTo: nil, headers: nil, payload: Array("Hello World".utf8)))),
            ("MSG FOO.BAR 9 GREETING.34 11\r\nHello World\r\n",
             .message(NATSMessage(subject: "FOO.BAR", sid: 9, replyTo: "GREETING.34", headers: nil, payload: Array("Hello World".utf8)))),
            ("msg\tempty\t1\t0\r\n\r\n", .message(NATSMessage(subject: "empty", sid: 1, replyTo: nil, headers: nil, payload: []))),
            // A payload holding the protocol's own delimiters.
            ("MSG x 2 12\r\nPING\r\nMSG \r\n\r\n",
             .message(NATSMessage(subject: "x", sid: 2, replyTo: nil, headers: nil, payload: Array("PING\r\nMSG \r\n".utf8)))),
            ("HMSG FOO.BAR 9 34 45\r\nNATS/1.0\r\nFoodGroup: vegetable\r\n\r\nHello World\r\n",
             .message(NATSMessage(subject: "FOO.BAR", sid: 9, replyTo: nil, headers: NATSHeaders([("FoodGroup", "vegetable")]), payload: Array("Hello World".utf8)))),
            ("HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
             .message(NATSMessage(subject: "_INBOX.a.1", sid: 3, replyTo: nil, headers: { var h = NATSHeaders(); h.status = 503; return h }(), payload: []))),
            ("HMSG in 4 $JS.ACK.S.C.1.2.3.4.5 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n",
             .message(NATSMessage(subject: "in", sid: 4, replyTo: "$JS.ACK.S.C.1.2.3.4.5", headers: {
                 var h = NATSHeaders(); h.status = 404; h.statusDescription = "No Messages"; return h }(), payload: []))),
            ("MSG bin 5 300\r\n" + String(decoding: binary, as: UTF8.self) + "\r\n", .message(NATSMessage(subject: "bin", sid: 5, replyTo: nil, headers: nil, payload: binary))),
        ]
    }()

    static func bytes(_ pieces: [(String, NATSServerOperation)]) -> [UInt8] {
        pieces.flatMap { piece -> [UInt8] in
            // The binary payload is not valid UTF-8: write its bytes, not a String's.
            if case .message(let m) = piece.1, m.subject == "bin" {
                return Array("MSG bin 5 300\r\n".utf8) + m.payload + Array("\r\n".utf8)
            }
            return Array(piece.0.utf8)
        }
    }

    static func parse(_ chunks: [ArraySlice<UInt8>]) throws -> [NATSServerOperation] {
        var parser = NATSProtocolParser()
        var out: [NATSServerOperation] = []
        for chunk in chunks {
            parser.append(chunk)
            while let operation = try parser.next() { out.append(operation) }
        }
        return out
    }

    @Test("every operation of the documentation reads as it should")
    func whole() throws {
        #expect(try Self.parse([Self.bytes(Self.stream)[...]]) == Self.stream.map(\.1))
    }

    @Test("the stream cut in two at every byte, and fed a byte at a time, reads the same")
    func cuts() throws {
        let bytes = Self.bytes(Self.stream)
        let expected = Self.stream.map(\.1)
        for cut in 0...bytes.count {
            #expect(try Self.parse([bytes[..<cut], bytes[cut...]]) == expected, "cut at \(cut)")
        }
        #expect(try Self.parse(bytes.indices.map { bytes[$0...$0] }) == expected)
    }

    @Test("what a server must not send is refused with the reason", arguments: [
        ("HELLO\r\n", "unknown operation"),
        ("MSG a 1\r\n", "MSG with 2 arguments"),
        ("MSG a x 3\r\nabc\r\n", "subscription id \"x\""),
        ("MSG a 1 -3\r\n", "size \"-3\""),
        ("MSG a 1 3\r\nabcd\r\n", "not followed by CRLF"),
        ("HMSG a 1 9 4\r\n", "header size \"9\""),
        ("HMSG a 1 4 4\r\nabcd\r\n", "does not start with NATS/1.0"),
        ("MSG a 1 99999999999\r\n", "is not a number up to"),
        ("INFO nope\r\n", "INFO without a JSON object"),
        ("x × 5000", "longer than 4096 bytes"),
    ])
    func refused(input: String, reason: String) {
        let bytes = input == "x × 5000" ? [UInt8](repeating: 0x78, count: 5_000) : Array(input.utf8)
        #expect {
            _ = try Self.parse([bytes[...]])
        } throws: { error in
            (error as? NATSError)?.code == .protocolViolation && "\(error)".contains(reason)
        }
    }

    @Test("an incomplete operation waits for the rest")
    func incomplete() throws {
        #expect(try Self.parse([Array("MSG a 1 5\r\nabc".utf8)[...]]).isEmpty)
        #expect(try Self.parse([Array("PIN".utf8)[...]]).isEmpty)
    }

    @Test("commands are written as the protocol spells them")
    func commands() throws {
        func text(_ command: NATSCommand) throws -> String {
            var out: [UInt8] = []
            try command.encode(into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try text(.publish(subject: "FOO", replyTo: nil, headers: nil, payload: Array("Hello NATS!".utf8))) == "PUB FOO 11\r\nHello NATS!\r\n")
        #expect(try text(.publish(subject: "FRONT.DOOR", replyTo: "JOKE.22", headers: nil, payload: Array("Knock Knock".utf8))) == "PUB FRONT.DOOR JOKE.22 11\r\nKnock Knock\r\n")
        // The documentation's HPUB example, byte for byte.
        #expect(try text(.publish(subject: "FOO", replyTo: nil, headers: NATSHeaders([("Bar", "Baz")]), payload: Array("Hello NATS!".utf8)))
                == "HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n")
        #expect(try text(.subscribe(subject: "BAR", queue: "G1", sid: 44)) == "SUB BAR G1 44\r\n")
        #expect(try text(.unsubscribe(sid: 1, after: 5)) == "UNSUB 1 5\r\n")
        #expect(throws: NATSError.self) { try text(.publish(subject: "a", replyTo: nil, headers: NATSHeaders([("Bad Name", "x")]), payload: [])) }
        #expect(throws: NATSError.self) { try text(.publish(subject: "a", replyTo: nil, headers: NATSHeaders([("Name", "a\r\nb")]), payload: [])) }
        for subject in ["", "a b", "a..b", ".a", "a.", "a\tb", "a\r\nPUB x 1"] {
            #expect(throws: NATSError.self, "\(subject.debugDescription)") { try NATSCommand.check(subject: subject) }
        }
        try NATSCommand.check(subject: "sluice.in.3")
        try NATSCommand.check(subject: "$KV.leases.>")
    }

    @Test("URLs name the host, port and credentials", arguments: [
        ("nats://127.0.0.1:4222", "127.0.0.1", 4222, nil, nil),
        ("nats://example.org", "example.org", 4222, nil, nil),
        ("localhost:5000", "localhost", 5000, nil, nil),
        ("nats://me:secret@host:1/", "host", 1, "me", "secret"),
    ] as [(String, String, Int, String?, String?)])
    func urls(url: String, host: String, port: Int, user: String?, password: String?) throws {
        let endpoint = try NATSClient.Endpoint(url)
        #expect(endpoint == NATSClient.Endpoint(host: host, port: port, user: user, password: password))
    }

    @Test("a URL it cannot use is refused", arguments: ["tls://host:4222", "nats://host:0", "nats://host:x", "nats://"])
    func badURLs(url: String) {
        #expect(throws: NATSError.self) { try NATSClient.Endpoint(url) }
    }
}
