import Testing
@testable import SluicePipeline

@Suite("Bounded channel")
struct BoundedChannelTests {
    @Test("elements arrive in order and the consumer sees the end after finish")
    func order() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        async let sent: Void = {
            for i in 0..<100 { try await channel.send(i) }
            channel.finish()
        }()
        var received: [Int] = []
        for await i in channel { received.append(i) }
        try await sent
        #expect(received == Array(0..<100))
    }

    @Test("a full channel suspends the producer until the consumer takes an element")
    func suspendsWhenFull() async throws {
        let channel = BoundedChannel<Int>(capacity: 2)
        try await channel.send(1)
        try await channel.send(2)
        #expect(!channel.trySend(3))
        let third = Task { try await channel.send(3) }
        // The producer is parked holding its element: depth counts it, the buffer is full.
        while channel.count < 3 { await Task.yield() }
        #expect(await channel.next() == 1)
        try await third.value
        #expect(await channel.next() == 2)
        #expect(await channel.next() == 3)
        channel.finish()
        #expect(await channel.next() == nil)
    }

    @Test("finish lets the consumer drain what was queued")
    func finishDrains() async throws {
        let channel = BoundedChannel<Int>(capacity: 4)
        for i in 0..<4 { try await channel.send(i) }
        channel.finish()
        var drained: [Int] = []
        for await i in channel { drained.append(i) }
        #expect(drained == [0, 1, 2, 3])
        await #expect(throws: ChannelClosedError.self) { try await channel.send(9) }
    }

    @Test("closing fails waiting and later producers instead of leaving them hanging")
    func closeFailsProducers() async throws {
        let channel = BoundedChannel<Int>(capacity: 1)
        try await channel.send(1)
        let waiting = Task { try await channel.send(2) }
        while channel.count < 2 { await Task.yield() }
        channel.close()
        await #expect(throws: ChannelClosedError.self) { try await waiting.value }
        await #expect(throws: ChannelClosedError.self) { try await channel.send(3) }
    }

    @Test("a cancelled producer's element is not delivered")
    func cancelledProducer() async throws {
        let channel = BoundedChannel<Int>(capacity: 1)
        try await channel.send(1)
        let waiting = Task { try await channel.send(2) }
        while channel.count < 2 { await Task.yield() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        channel.finish()
        var rest: [Int] = []
        for await i in channel { rest.append(i) }
        #expect(rest == [1])
    }

    @Test("many producers, one consumer: nothing lost, nothing duplicated")
    func manyProducers() async throws {
        let channel = BoundedChannel<Int>(capacity: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<8 {
                group.addTask { for i in 0..<500 { try await channel.send(p * 1_000 + i) } }
            }
            group.addTask {}
            var received: [Int] = []
            let consumer = Task {
                var seen: [Int] = []
                for await i in channel { seen.append(i) }
                return seen
            }
            try await group.waitForAll()
            channel.finish()
            received = await consumer.value
            #expect(received.count == 4_000)
            #expect(Set(received).count == 4_000)
            // Each producer's own elements stay in its order.
            for p in 0..<8 {
                let mine = received.filter { $0 / 1_000 == p }
                #expect(mine == mine.sorted())
            }
        }
    }
}
