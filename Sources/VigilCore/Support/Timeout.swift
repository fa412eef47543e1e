/// How work run with a deadline ended.
public enum TimeoutOutcome<Value: Sendable>: Sendable {
    case finished(Value)
    /// The deadline came first; the work was cancelled and awaited.
    case timedOut
    /// The caller's task was cancelled (shutdown); so was the work.
    case cancelled
}

/// Runs `work` until it finishes or `timeout` passes, whichever is first.
/// Either way the work has ended when this returns (cancelled and awaited),
/// so nothing it holds (a child process, a subscription) outlives the call.
public func withTimeout<Value: Sendable>(
    _ timeout: Duration, _ work: @escaping @Sendable () async -> Value
) async -> TimeoutOutcome<Value> {
    await withTaskGroup(of: TimeoutOutcome<Value>.self) { group in
        group.addTask { .finished(await work()) }
        group.addTask {
            do {
                try await Task.sleep(for: timeout)
                return .timedOut
            } catch {
                return .cancelled
            }
        }
        let first = await group.next() ?? .cancelled
        group.cancelAll()
        await group.waitForAll()
        return first
    }
}
