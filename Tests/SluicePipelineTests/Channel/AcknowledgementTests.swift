import Testing
@testable import SluicePipeline

/// The signal an HTTP request waits on for its records to be durable.
@Suite("Acknowledgement")
struct AcknowledgementTests {
    @Test("a waiter whose task is cancelled stops waiting at once, so a deadline is always kept")
    func cancellation() async {
        let acknowledgement = Acknowledgement()
        let waiter = Task { await acknowledgement.wait() }
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
        // The acknowledgement itself is still open: a later waiter gets the real outcome.
        acknowledgement.resolve(.failed("No space left on device"))
        #expect(await acknowledgement.wait() == .failed("No space left on device"))
    }

    @Test("every waiter hears the one outcome; a second resolve changes nothing")
    func oneOutcome() async {
        let acknowledgement = Acknowledgement()
        let waiters = (0..<8).map { _ in Task { await acknowledgement.wait() } }
        acknowledgement.resolve(.stored)
        acknowledgement.resolve(.failed("late"))
        for w in waiters { #expect(await w.value == .stored) }
        #expect(await acknowledgement.wait() == .stored)
    }
}
