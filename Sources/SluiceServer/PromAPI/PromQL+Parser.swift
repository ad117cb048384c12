extension PromQL {
    /// A recursive-descent parser for Sluice's PromQL subset, with Prometheus' precedence
    /// (`^` over unary minus over `* / %` over `+ -`) and type checks. Anything outside the
    /// subset is `bad_data` naming the construct.
    struct Parser {
        private let characters: [Character]
        private let tokens: [Token]
        private var position = 0
        /// Nesting (parentheses, calls, unary operators) and binary operators so far: both
        /// bounded, so that no query can exhaust the stack of the parser or the evaluator.
        private var depth = 0
        private var operators = 0
        static let maximumDepth = 64
        static let maximumOperators = 128

        /// Parses and type-checks a whole query.
        static func parse(_ query: String) throws(APIError) -> Expression {
            var parser = try Parser(query)
            guard parser.peek.kind != .end else { throw parser.error("no expression found in input", at: parser.peek) }
            let expression = try parser.expression()
            guard parser.peek.kind == .end else { throw parser.error("unexpected \(parser.peek.quoted)", at: parser.peek) }
            return expression
        }

        private init(_ query: String) throws(APIError) {
            characters = Array(query)
            tokens = try Lexer.tokens(query)
        }

        // MARK: Tokens

        var peek: Token { tokens[position] }

        mutating func advance() -> Token {
            defer { if position < tokens.count - 1 { position += 1 } }
            return tokens[position]
        }

        func isPunctuation(_ p: String) -> Bool { peek.kind == .punctuation(p) }
        func isKeyword(_ k: String) -> Bool {
            if case .identifier(let word) = peek.kind { return word.lowercased() == k }
            return false
        }

        mutating func expect(_ p: String, _ context: String) throws(APIError) {
            guard isPunctuation(p) else { throw error("unexpected \(peek.quoted) \(context); expected \"\(p)\"", at: peek) }
            _ = advance()
        }

        func error(_ message: String, at token: Token) -> APIError {
            PromQL.parseError(message, at: token.offset, in: characters)
        }

        func unsupported(_ what: String, at token: Token) -> APIError {
            .badData("invalid parameter \"query\": \(what) is not supported by Sluice's PromQL (see the README's API section)")
        }

        // MARK: Binary operators

        /// Operator levels, loosest first. Only arithmetic is evaluated.
        private static let levels: [[String]] = [["or"], ["and", "unless"], ["==", "!=", "<=", "<", ">=", ">"], ["+", "-"], ["*", "/", "%", "atan2"]]

        mutating func expression() throws(APIError) -> Expression { try binary(level: 0) }

        private func binaryOperator(at level: Int) -> String? {
            for op in Self.levels[level] {
                if op.first!.isLetter ? isKeyword(op) : isPunctuation(op) { return op }
            }
            return nil
        }

        private mutating func binary(level: Int) throws(APIError) -> Expression {
            guard level < Self.levels.count else { return try unary() }
            var lhs = try binary(level: level + 1)
            while let op = binaryOperator(at: level) {
                let token = advance()
                operators += 1
                guard operators <= Self.maximumOperators else {
                    throw APIError.badData("invalid parameter \"query\": more than \(Self.maximumOperators) binary operators")
                }
                for modifier in ["bool", "on", "ignoring", "group_left", "group_right"] where isKeyword(modifier) {
                    throw unsupported("the binary operator modifier \"\(modifier)\"", at: peek)
                }
                let rhs = try binary(level: level + 1)
                lhs = try combine(op, lhs, rhs, at: token)
            }
            return lhs
        }

        private func combine(_ op: String, _ lhs: Expression, _ rhs: Expression, at token: Token) throws(APIError) -> Expression {
            guard let arithmetic = BinaryOperator(rawValue: op) else {
                throw unsupported("the binary operator \"\(op)\"", at: token)
            }
            for side in [lhs, rhs] where side.type != .scalar && side.type != .instantVector {
                throw error("binary expression must contain only scalar and instant vector types", at: token)
            }
            if lhs.type == .instantVector && rhs.type == .instantVector {
                throw unsupported("arithmetic between two instant vectors (\"\(op)\"); one side must be a number", at: token)
            }
            return .binary(arithmetic, lhs, rhs)
        }

        /// `-x`, `+x`; binds looser than `^`, so `-2^2` is `-(2^2)`.
        private mutating func unary() throws(APIError) -> Expression {
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else {
                throw APIError.badData("invalid parameter \"query\": nested more than \(Self.maximumDepth) levels deep")
            }
            if isPunctuation("-") || isPunctuation("+") {
                let token = advance()
                let operand = try unary()
                guard operand.type == .scalar || operand.type == .instantVector else {
                    throw error("unary expression only allowed on expressions of type scalar or instant vector", at: token)
                }
                if token.kind == .punctuation("+") { return operand }
                if case .number(let n) = operand { return .number(-n) }
                return .negation(operand)
            }
            return try power()
        }

        /// `a ^ b`, right-associative; the exponent may carry a sign.
        private mutating func power() throws(APIError) -> Expression {
            let base = try postfix()
            guard isPunctuation("^") else { return base }
            let token = advance()
            return try combine("^", base, try unary(), at: token)
        }

        // MARK: Primaries

        /// A primary with its `[range]`, `offset` and `@` modifiers.
        private mutating func postfix() throws(APIError) -> Expression {
            var e = try primary()
            if isPunctuation("[") {
                let open = advance()
                guard case .selector(let s) = e else {
                    throw isSubquery() ? unsupported("a subquery", at: open) : error("ranges only allowed for vector selectors", at: open)
                }
                guard case .duration(let range) = advance().kind else {
                    throw isPunctuation(":") ? unsupported("a subquery", at: open) : error("expected a duration such as 5m in brackets", at: open)
                }
                if isPunctuation(":") { throw unsupported("a subquery", at: open) }
                guard range > 0 else { throw error("range must be positive", at: open) }
                try expect("]", "after the range")
                e = .range(s, range)
            }
            while true {
                if isPunctuation("@") { throw unsupported("the @ modifier", at: peek) }
                guard isKeyword("offset") else { return e }
                let token = advance()
                let sign: Int64 = isPunctuation("-") ? -1 : 1
                if sign < 0 { _ = advance() }
                guard case .duration(let offset) = advance().kind else { throw error("expected a duration after offset", at: token) }
                switch e {
                case .selector(var s) where s.offset == 0: s.offset = sign * offset; e = .selector(s)
                case .range(var s, let r) where s.offset == 0: s.offset = sign * offset; e = .range(s, r)
                default: throw error("offset modifier must be preceded by a vector or range selector, once", at: token)
                }
            }
        }

        private func isSubquery() -> Bool {
            position + 1 < tokens.count && tokens[position + 1].kind == .punctuation(":")
        }

        private mutating func primary() throws(APIError) -> Expression {
            let token = peek
            switch token.kind {
            case .number(let n):
                _ = advance()
                return .number(n)
            case .string:
                throw unsupported("a string literal", at: token)
            case .duration:
                throw error("unexpected \(token.quoted)", at: token)
            case .punctuation("("):
                _ = advance()
                let inner = try expression()
                try expect(")", "in parentheses")
                return inner
            case .punctuation("{"):
                return .selector(try selector(name: nil, at: token))
            case .identifier(let word):
                _ = advance()
                if let aggregation = Aggregation(rawValue: word.lowercased()), isPunctuation("(") || isKeyword("by") || isKeyword("without") {
                    return try aggregate(aggregation, at: token)
                }
                if isPunctuation("(") { return try call(word, at: token) }
                if ["topk", "bottomk", "quantile", "count_values", "stddev", "stdvar", "group", "limitk", "limit_ratio"].contains(word),
                   isKeyword("by") || isKeyword("without") {
                    throw unsupported("the aggregation \"\(word)\"", at: token)
                }
                return .selector(try selector(name: word, at: token))
            default:
                throw error("unexpected \(token.quoted)", at: token)
            }
        }
    }
}
