#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import SluicePipeline

/// SIGINT and SIGTERM end input gracefully: ingest stops, everything in flight drains, the store
/// flushes and syncs, and the process exits 0. A second signal exits at once.
enum ShutdownSignals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func install(_ stop: StopSignal) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if stop.isSet {
                    StandardError.write("sluice: second signal, exiting without draining\n")
                    _exit(130)
                }
                StandardError.write("sluice: stopping; draining what is in flight (signal again to exit at once)\n")
                stop.set()
            }
            source.resume()
            sources.append(source)
        }
    }
}
