#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import SluicePipeline

/// SIGINT and SIGTERM start a graceful shutdown: the sources stop, everything in flight
/// drains, the store flushes and syncs, and the process exits 0. A second signal exits at once.
enum ShutdownSignals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func install(_ shutdown: @escaping @Sendable () async -> Void) {
        let requested = StopSignal()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if requested.isSet {
                    StandardError.write("sluice: second signal, exiting without draining\n")
                    _exit(130)
                }
                StandardError.write("sluice: stopping; draining what is in flight (signal again to exit at once)\n")
                requested.set()
                Task { await shutdown() }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling (commands run in-process by tests call this at the end).
    static func uninstall() {
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
