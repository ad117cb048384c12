import SluiceModel

/// The anomaly detector stage: watches every closed window and puts an `anomaly` record right
/// after the window that shows one. Everything else passes through untouched, in order.
public struct AnomalyDetector: EventStage {
    public let configuration: Configuration
    let counters: PipelineCounters

    public init(configuration: Configuration, counters: PipelineCounters) {
        self.configuration = configuration
        self.counters = counters
    }

    public func run(input: BoundedChannel<[StageEvent]>, output: BoundedChannel<[StageEvent]>) async throws {
        var machine = StateMachine(configuration: configuration)
        for await events in input {
            let before = machine.anomalies
            var out: [StageEvent] = []
            out.reserveCapacity(events.count)
            for event in events {
                out.append(event)
                if case .output(.window(let w)) = event {
                    for anomaly in machine.window(w) { out.append(.output(.anomaly(anomaly))) }
                }
            }
            counters.add("anomalies", machine.anomalies - before)
            try await output.send(out)
        }
    }
}
