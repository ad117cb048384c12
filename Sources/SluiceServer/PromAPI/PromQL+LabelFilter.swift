import SluiceModel

extension PromQL {
    /// A selector's matchers, compiled for matching series labels.
    ///
    /// Swift's `Regex` is not `Sendable`, so the AST keeps the pattern text and a filter is
    /// compiled where it is used (once per selector per query).
    struct LabelFilter {
        private let tests: [(name: String, test: (String) -> Bool)]

        init(_ matchers: [Matcher]) throws(APIError) {
            var tests: [(String, (String) -> Bool)] = []
            for m in matchers {
                switch m.op {
                case .equal:
                    let value = m.value
                    tests.append((m.name, { $0 == value }))
                case .notEqual:
                    let value = m.value
                    tests.append((m.name, { $0 != value }))
                case .matchesRegex:
                    let regex = try Self.anchored(m.value)
                    tests.append((m.name, { $0.wholeMatch(of: regex) != nil }))
                case .notMatchesRegex:
                    let regex = try Self.anchored(m.value)
                    tests.append((m.name, { $0.wholeMatch(of: regex) == nil }))
                }
            }
            self.tests = tests
        }

        /// Whether every matcher accepts the labels (a missing label counts as `""`).
        func matches(_ labels: Labels) -> Bool {
            tests.allSatisfy { $0.test(labels[$0.name] ?? "") }
        }

        /// Whether the matchers accept a series that has no labels at all: Prometheus refuses
        /// such selectors, which would select everything.
        func matchesEmpty() -> Bool {
            tests.allSatisfy { $0.test("") }
        }

        /// `pattern` as Prometheus applies it: the whole value must match, and `.` matches a
        /// newline too (`^(?s:pattern)$`).
        static func anchored(_ pattern: String) throws(APIError) -> Regex<AnyRegexOutput> {
            do {
                // Checked alone first, so that a pattern such as `a)|(b` cannot escape the group.
                _ = try Regex(pattern)
                return try Regex("(?s:" + pattern + ")").matchingSemantics(.unicodeScalar)
            } catch {
                throw .badData("invalid regular expression \"\(pattern)\": \(error)")
            }
        }
    }
}
