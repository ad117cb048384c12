extension PromQL.Parser {
    typealias Expression = PromQL.Expression

    /// `name{matchers}`, `name` or `{matchers}`; a quoted name alone in the braces is the
    /// metric name (`{"http.requests"}`).
    mutating func selector(name: String?, at start: PromQL.Token) throws(APIError) -> PromQL.Selector {
        var matchers: [PromQL.Matcher] = []
        if let name { matchers.append(PromQL.Matcher(name: "__name__", op: .equal, value: name)) }
        if isPunctuation("{") {
            _ = advance()
            while !isPunctuation("}") {
                let nameToken = advance()
                let label: String
                switch nameToken.kind {
                case .identifier(let word): label = word
                case .string(let quoted) where isPunctuation(",") || isPunctuation("}"):
                    matchers.append(PromQL.Matcher(name: "__name__", op: .equal, value: quoted))
                    if isPunctuation(",") { _ = advance() }
                    continue
                case .string(let quoted): label = quoted
                default: throw error("unexpected \(nameToken.quoted) in label matching, expected label name", at: nameToken)
                }
                let opToken = advance()
                guard case .punctuation(let text) = opToken.kind, let op = PromQL.Matcher.Operator(rawValue: text) else {
                    throw error("unexpected \(opToken.quoted) in label matching, expected one of \"=\", \"!=\", \"=~\", \"!~\"", at: opToken)
                }
                let valueToken = advance()
                guard case .string(let value) = valueToken.kind else {
                    throw error("unexpected \(valueToken.quoted) in label matching, expected a quoted string", at: valueToken)
                }
                matchers.append(PromQL.Matcher(name: label, op: op, value: value))
                if isPunctuation(",") { _ = advance() } else if !isPunctuation("}") {
                    throw error("unexpected \(peek.quoted) in label matching, expected \",\" or \"}\"", at: peek)
                }
            }
            _ = advance()
        }
        if matchers.filter({ $0.name == "__name__" }).count > 1, name != nil {
            throw error("metric name must not be set twice: \"\(name!)\"", at: start)
        }
        guard !(try PromQL.LabelFilter(matchers).matchesEmpty()) else {
            throw error("vector selector must contain at least one non-empty matcher", at: start)
        }
        return PromQL.Selector(matchers: matchers)
    }

    /// `sum by (a) (x)`, `sum(x) by (a)`, `sum without (a) (x)`, `sum(x)`.
    mutating func aggregate(_ aggregation: PromQL.Aggregation, at start: PromQL.Token) throws(APIError) -> Expression {
        var grouping = try groupingClause()
        try expect("(", "after \(aggregation.rawValue)")
        let argument = try expression()
        if isPunctuation(",") { throw error("wrong number of arguments for aggregate expression provided, expected 1, got 2", at: peek) }
        try expect(")", "after the argument of \(aggregation.rawValue)")
        if let after = try groupingClause() {
            guard grouping == nil else { throw error("duplicate grouping clause in \(aggregation.rawValue)", at: start) }
            grouping = after
        }
        guard argument.type == .instantVector else {
            throw error("expected type instant vector in aggregation expression, got \(argument.type)", at: start)
        }
        return .aggregate(aggregation, grouping ?? .by([]), argument)
    }

    private mutating func groupingClause() throws(APIError) -> PromQL.Grouping? {
        let isBy = isKeyword("by")
        guard isBy || isKeyword("without") else { return nil }
        _ = advance()
        try expect("(", "in grouping")
        var labels: [String] = []
        while !isPunctuation(")") {
            let token = advance()
            switch token.kind {
            case .identifier(let word), .string(let word): labels.append(word)
            default: throw error("unexpected \(token.quoted) in grouping, expected label", at: token)
            }
            if isPunctuation(",") { _ = advance() } else if !isPunctuation(")") {
                throw error("unexpected \(peek.quoted) in grouping, expected \",\" or \")\"", at: peek)
            }
        }
        _ = advance()
        return isBy ? .by(labels) : .without(labels)
    }

    /// A call of one of the supported functions, arguments type-checked.
    mutating func call(_ name: String, at start: PromQL.Token) throws(APIError) -> Expression {
        guard let function = PromQL.Function(rawValue: name) else {
            let aggregations = ["topk", "bottomk", "quantile", "count_values", "stddev", "stdvar", "group", "limitk", "limit_ratio"]
            let what = aggregations.contains(name) ? "the aggregation \"\(name)\"" : "the function \"\(name)\""
            throw unsupported(what, at: start)
        }
        try expect("(", "after \(name)")
        var arguments: [Expression] = []
        while !isPunctuation(")") {
            arguments.append(try expression())
            if isPunctuation(",") { _ = advance() } else if !isPunctuation(")") {
                throw error("unexpected \(peek.quoted) in call to \(name), expected \",\" or \")\"", at: peek)
            }
        }
        _ = advance()
        let expected = function.argumentTypes
        guard arguments.count == expected.count else {
            throw error("expected \(expected.count) argument(s) in call to \"\(name)\", got \(arguments.count)", at: start)
        }
        for (argument, type) in zip(arguments, expected) where argument.type != type {
            throw error("expected type \(type) in call to function \"\(name)\", got \(argument.type)", at: start)
        }
        if function == .quantileOverTime, case .range(let s, _) = arguments[1], let exact = s.exactName,
           let colon = exact.lastIndex(of: ":"), PromSeriesSource.statistics.contains(String(exact[exact.index(after: colon)...])) {
            throw error("quantile_over_time merges the sketches of a window series: name the series (\"\(exact[..<colon])\"), not one of its statistics", at: start)
        }
        return .call(function, arguments)
    }
}
