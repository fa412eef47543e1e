import Testing
import VigilCore

@Suite struct BoundedQueueTests {
    @Test func keepsOrderAndRefusesWhenFull() {
        let queue = BoundedQueue<Int>(capacity: 3, overflow: .refuseNew)
        #expect((1...5).map { queue.push($0) } == [true, true, true, false, false])
        #expect(queue.dropped == 2)
        #expect([queue.poll(), queue.poll(), queue.poll(), queue.poll()] == [1, 2, 3, nil])
    }

    @Test func newestWinsWithDropOldest() {
        let queue = BoundedQueue<Int>(capacity: 1, overflow: .dropOldest)
        for value in 1...4 { #expect(queue.push(value)) }
        #expect(queue.dropped == 3)
        #expect(queue.poll() == 4)
        #expect(queue.count == 0)
    }

    @Test func boundedByCostUnlessTheElementMustNotBeLost() {
        let queue = BoundedQueue<Int>(capacity: 100, overflow: .refuseNew, maxCost: 10) { $0 }
        #expect(queue.push(6))
        #expect(!queue.push(5), "6 + 5 is over the cost bound")
        #expect(queue.push(4))
        #expect(queue.push(7, ignoringLimits: true))
        #expect(queue.cost == 17)
        #expect([queue.poll(), queue.poll(), queue.poll()] == [6, 4, 7])
        #expect(queue.cost == 0)
    }

    @Test func finishDrainsThenEnds() async {
        let queue = BoundedQueue<Int>(capacity: 4, overflow: .refuseNew)
        queue.push(1)
        queue.push(2)
        queue.finish()
        #expect(!queue.push(3), "nothing is taken after finish")
        #expect(await queue.next() == 1)
        #expect(await queue.next() == 2)
        #expect(await queue.next() == nil)
    }

    @Test func aConsumerStartedBeforeThePushGetsIt() async {
        let queue = BoundedQueue<String>(capacity: 1, overflow: .refuseNew)
        async let received = queue.next()
        // Whether it is parked by then or not, it gets the element.
        while queue.count == 0 {
            queue.push("frame")
            await Task.yield()
        }
        #expect(await received == "frame")
    }

    @Test func aCancelledConsumerGetsNil() async {
        let queue = BoundedQueue<Int>(capacity: 1, overflow: .refuseNew)
        let consumer = Task { await queue.next() }
        consumer.cancel()
        #expect(await consumer.value == nil)
    }
}
