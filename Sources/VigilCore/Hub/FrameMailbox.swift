/// A newest-wins subscription for async consumers.
///
/// It holds at most one pending frame: when a new frame arrives before the
/// consumer took the previous one, the previous one is replaced and counted
/// in `dropped`. Memory per subscriber is constant whatever the consumer's
/// speed.
public final class FrameMailbox: FrameSubscriber {
    private let queue = BoundedQueue<Frame>(capacity: 1, overflow: .dropOldest)

    public init() {}

    /// Frames replaced before the consumer took them.
    public var dropped: Int { queue.dropped }

    public func offer(_ frame: Frame) {
        queue.push(frame)
    }

    public func finish() {
        queue.finish()
    }

    /// The pending frame, if any, without waiting.
    public func poll() -> Frame? {
        queue.poll()
    }

    /// Waits for the next frame; nil when finished or when the task is cancelled.
    public func next() async -> Frame? {
        await queue.next()
    }
}
