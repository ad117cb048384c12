import NIOCore
import Testing
@testable import SluiceServer

/// `RequestTimeoutHandler.StateMachine`, driven with explicit times.
@Suite("Request timeout state machine")
struct RequestTimeoutStateMachineTests {
    typealias Machine = RequestTimeoutHandler.StateMachine
    static func at(_ seconds: Double) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + seconds * 1e9)) }

    @Test("a head must be whole within the timeout of its first byte; late, it is answered 408")
    func headDeadline() {
        var machine = Machine(timeout: .seconds(10), minBodyRate: 1_024)
        #expect(machine.bytesRead(1, now: Self.at(0)) == .arm(Self.at(10)))
        // More bytes do not buy a trickling head more time.
        #expect(machine.bytesRead(1, now: Self.at(5)) == .none)
        #expect(machine.timerFired(now: Self.at(9.9)) == .arm(Self.at(10)))
        #expect(machine.timerFired(now: Self.at(10)) == .close(answer: true, phase: .head(deadline: Self.at(10))))
        #expect(machine.phase == .closed)
        #expect(machine.timerFired(now: Self.at(11)) == .none)
    }

    @Test("between requests nothing times out: that is the idle timeout's business")
    func idleBetweenRequests() {
        var machine = Machine(timeout: .seconds(10), minBodyRate: 1_024)
        _ = machine.bytesRead(40, now: Self.at(0))
        #expect(machine.headReceived(now: Self.at(1)) == .arm(Self.at(11)))
        machine.requestEnded()
        machine.responseStarted()
        machine.responseEnded()
        #expect(machine.phase == .waiting)
        #expect(machine.timerFired(now: Self.at(500)) == .none)
        // The next request's clock starts at its own first byte.
        #expect(machine.bytesRead(1, now: Self.at(600)) == .arm(Self.at(610)))
    }

    @Test("a body earns a second for every min_body_rate bytes; a trickle runs out, a steady upload does not")
    func bodyRate() {
        var trickle = Machine(timeout: .seconds(10), minBodyRate: 1_000)
        _ = trickle.bytesRead(50, now: Self.at(0))
        #expect(trickle.headReceived(now: Self.at(0)) == .arm(Self.at(10)))
        for second in 1...10 { _ = trickle.bytesRead(1, now: Self.at(Double(second))) }
        // Ten bytes earned 10 ms.
        #expect(trickle.timerFired(now: Self.at(10)) == .arm(Self.at(10.01)))
        #expect(trickle.timerFired(now: Self.at(10.01)) == .close(answer: true, phase: .body(deadline: Self.at(10.01))))

        var steady = Machine(timeout: .seconds(10), minBodyRate: 1_000)
        _ = steady.bytesRead(50, now: Self.at(0))
        _ = steady.headReceived(now: Self.at(0))
        for second in 1...60 {
            _ = steady.bytesRead(2_000, now: Self.at(Double(second)))
            if case .close = steady.timerFired(now: Self.at(Double(second))) { Issue.record("cut at \(second) s at twice the minimum rate") }
        }
        steady.requestEnded()
        #expect(steady.phase == .waiting)
    }

    @Test("no 408 is written over a response under way or owed to an earlier request; the connection is closed all the same")
    func answerOnlyWhenFree() {
        // A pipelined second request trickles while the first is still being answered.
        var machine = Machine(timeout: .seconds(10), minBodyRate: 1_024)
        _ = machine.bytesRead(40, now: Self.at(0))
        _ = machine.headReceived(now: Self.at(0))
        machine.requestEnded()
        _ = machine.bytesRead(1, now: Self.at(1))
        machine.responseStarted()
        #expect(machine.timerFired(now: Self.at(11)) == .close(answer: false, phase: .head(deadline: Self.at(11))))

        // A body that trickles after its early answer (a 401) went out.
        var answered = Machine(timeout: .seconds(10), minBodyRate: 1_024)
        _ = answered.bytesRead(40, now: Self.at(0))
        _ = answered.headReceived(now: Self.at(0))
        answered.responseStarted()
        answered.responseEnded()
        #expect(answered.timerFired(now: Self.at(10)) == .close(answer: false, phase: .body(deadline: Self.at(10))))
    }
}
