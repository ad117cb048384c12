import NIOCore

extension RequestTimeoutHandler {
    /// When a request that is still arriving has taken too long (`server.request_timeout`).
    ///
    /// A request head must arrive within `timeout` of its first byte; its body within `timeout`
    /// of the head, plus one second for every `minBodyRate` bytes it brings, so a large upload
    /// at a fair rate is never cut but a trickle is. Between requests the connection is idle,
    /// which is `server.idle_timeout`'s business, not this one's. Pure: time is an argument.
    struct StateMachine {
        enum Phase: Equatable {
            /// No request is arriving.
            case waiting
            /// Bytes of a request head have arrived; the head must be whole by `deadline`.
            case head(deadline: NIODeadline)
            /// The head arrived; the body must be whole by `deadline` (which bytes extend).
            case body(deadline: NIODeadline)
            /// Timed out: the connection is being closed.
            case closed
        }

        enum Action: Equatable {
            case none
            /// Make sure a timer fires at `deadline` (or earlier, and is then re-armed).
            case arm(NIODeadline)
            /// Close the connection; `answer`: a `408` can still be written first, since no
            /// response is under way or owed to an earlier request.
            case close(answer: Bool, phase: Phase)
        }

        let timeout: TimeAmount
        let minBodyRate: Int
        private(set) var phase = Phase.waiting
        /// Requests whose head arrived and whose response has not ended.
        private(set) var unanswered = 0
        /// A response head went out and its end has not.
        private(set) var responding = false

        init(timeout: TimeAmount, minBodyRate: Int) {
            self.timeout = timeout
            self.minBodyRate = max(1, minBodyRate)
        }

        /// `count` bytes arrived from the client.
        mutating func bytesRead(_ count: Int, now: NIODeadline) -> Action {
            switch phase {
            case .waiting:
                let deadline = now + timeout
                phase = .head(deadline: deadline)
                return .arm(deadline)
            case .body(let deadline):
                let earned = Int64(count) * 1_000_000_000 / Int64(minBodyRate)
                phase = .body(deadline: deadline + .nanoseconds(earned))
                return .none
            case .head, .closed:
                return .none
            }
        }

        /// The decoder produced a request head.
        mutating func headReceived(now: NIODeadline) -> Action {
            unanswered += 1
            guard phase != .closed else { return .none }
            let deadline = now + timeout
            phase = .body(deadline: deadline)
            return .arm(deadline)
        }

        /// The decoder reached the end of a request (its body, if any, is whole).
        mutating func requestEnded() {
            if phase != .closed { phase = .waiting }
        }

        mutating func responseStarted() { responding = true }

        mutating func responseEnded() {
            responding = false
            unanswered = max(0, unanswered - 1)
        }

        /// A timer armed earlier fired at `now`.
        mutating func timerFired(now: NIODeadline) -> Action {
            switch phase {
            case .waiting, .closed:
                return .none
            case .head(let deadline), .body(let deadline):
                guard now >= deadline else { return .arm(deadline) }
                let timedOut = phase
                // In a head, no earlier request may still be owed its answer; in a body, the
                // only one owed is this request, and nothing of its answer went out yet.
                let answer: Bool = if case .head = phase { unanswered == 0 && !responding } else { unanswered == 1 && !responding }
                phase = .closed
                return .close(answer: answer, phase: timedOut)
            }
        }
    }
}
