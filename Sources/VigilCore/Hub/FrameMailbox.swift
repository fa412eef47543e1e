import Synchronization

/// A newest-wins subscription for async consumers.
///
/// It holds at most one pending frame: when a new frame arrives before the
/// consumer took the previous one, the previous one is replaced and counted
/// in `dropped`. Memory per subscriber is constant whatever the consumer's
/// speed.
public final class FrameMailbox: FrameSubscriber {
    private struct State {
        var pending: Frame?
        var waiter: CheckedContinuation<Frame?, Never>?
        var finished = false
        var dropped = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Frames replaced before the consumer took them.
    public var dropped: Int { state.withLock { $0.dropped } }

    public func offer(_ frame: Frame) {
        let waiter = state.withLock { state -> CheckedContinuation<Frame?, Never>? in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            if state.pending != nil { state.dropped += 1 }
            state.pending = frame
            return nil
        }
        waiter?.resume(returning: frame)
    }

    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Frame?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The pending frame, if any, without waiting.
    public func poll() -> Frame? {
        state.withLock { state in
            defer { state.pending = nil }
            return state.pending
        }
    }

    /// Waits for the next frame; nil when finished or when the task is cancelled.
    public func next() async -> Frame? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Frame?, Never>) in
                let immediate = state.withLock { state -> Frame?? in
                    if let frame = state.pending {
                        state.pending = nil
                        return .some(frame)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Frame?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
