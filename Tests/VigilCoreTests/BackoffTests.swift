import Testing
import VigilAPI
import VigilCore

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToTheCapAndNeverGivesUp() {
        var backoff = Backoff(initial: .milliseconds(250), max: .seconds(10))
        var generator = SeededGenerator(seed: 1)
        var ceilings: [Duration] = []
        for _ in 0..<100 {
            ceilings.append(backoff.ceiling)
            let delay = backoff.next(using: &generator)
            #expect(delay >= .zero && delay <= .seconds(10))
        }
        #expect(
            Array(ceilings.prefix(7)) == [
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8),
                .seconds(10),
            ])
        #expect(ceilings.suffix(90).allSatisfy { $0 == .seconds(10) })
        #expect(backoff.failures == 100)
    }

    @Test func delaysAreJitteredAcrossTheWholeRange() {
        var generator = SeededGenerator(seed: 7)
        var delays: [Duration] = []
        for _ in 0..<200 {
            var backoff = Backoff(initial: .seconds(1), max: .seconds(1))
            delays.append(backoff.next(using: &generator))
        }
        #expect(delays.contains { $0 < .milliseconds(250) })
        #expect(delays.contains { $0 > .milliseconds(750) })
    }

    @Test func withoutJitterEachDelayIsTheCeiling() {
        var backoff = Backoff(initial: .seconds(1), max: .seconds(30), jitter: false)
        let delays = (0..<7).map { _ in backoff.next() }
        #expect(
            delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
    }

    @Test func resetStartsOverFromTheInitialCeiling() {
        var backoff = Backoff(initial: .milliseconds(250), max: .seconds(10))
        for _ in 0..<10 { _ = backoff.next() }
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(250))
    }
}
