import Synchronization
import Testing
import VigilCore

@Suite struct TimeoutTests {
    @Test func workThatFinishesFirstIsAnswered() async {
        let outcome = await withTimeout(.seconds(30)) { 42 }
        guard case .finished(let value) = outcome else {
            Issue.record("expected finished, got \(outcome)")
            return
        }
        #expect(value == 42)
    }

    @Test func workPastTheDeadlineIsCancelledAndAwaited() async {
        let ended = Mutex(false)
        let outcome = await withTimeout(.milliseconds(50)) {
            // Waits for cancellation, then notes that it ended.
            try? await Task.sleep(for: .seconds(3600))
            ended.withLock { $0 = true }
        }
        guard case .timedOut = outcome else {
            Issue.record("expected timedOut, got \(outcome)")
            return
        }
        #expect(ended.withLock { $0 }, "the work has ended when withTimeout returns")
    }

    @Test func cancellingTheCallerCancelsTheWork() async {
        let started = AsyncStream<Void>.makeStream()
        let caller = Task {
            await withTimeout(.seconds(3600)) {
                started.continuation.yield()
                try? await Task.sleep(for: .seconds(3600))
                return Task.isCancelled
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        await iterator.next()
        caller.cancel()
        let outcome = await caller.value
        switch outcome {
        case .cancelled: break
        case .finished(let sawCancellation): #expect(sawCancellation)
        case .timedOut: Issue.record("the deadline was an hour away")
        }
    }
}
