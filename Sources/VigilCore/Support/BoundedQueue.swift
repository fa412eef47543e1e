import NIOCore
import Synchronization

/// A bounded FIFO queue with one async consumer: the one queue the code
/// base uses between a producer that must never block (a frame publisher,
/// the event rules, a hook request) and the task that consumes.
///
/// Bounded by count and, optionally, by a cost (bytes). When full, the
/// overflow policy decides: refuse the new element, or drop the oldest one
/// (capacity 1 with `.dropOldest` is "newest wins"). Drops are counted.
/// After `finish()` the consumer gets what is queued, then nil. A waiting
/// consumer is resumed outside the lock, and a cancelled one gets nil.
public final class BoundedQueue<Element: Sendable>: Sendable {
    public enum Overflow: Sendable {
        /// A push into a full queue is refused (the caller learns it).
        case refuseNew
        /// The oldest element makes room (newest wins).
        case dropOldest
    }

    private struct State {
        var elements = CircularBuffer<Element>()
        var cost = 0
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
        var dropped = 0
    }

    public let capacity: Int
    public let maxCost: Int
    private let overflow: Overflow
    private let costOf: @Sendable (Element) -> Int
    private let state = Mutex(State())

    public init(
        capacity: Int, overflow: Overflow, maxCost: Int = .max, cost: @escaping @Sendable (Element) -> Int = { _ in 0 }
    ) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.overflow = overflow
        self.maxCost = maxCost
        self.costOf = cost
    }

    /// Elements dropped or refused because the queue was full.
    public var dropped: Int { state.withLock { $0.dropped } }
    public var count: Int { state.withLock { $0.elements.count } }
    /// The summed cost of the queued elements.
    public var cost: Int { state.withLock { $0.cost } }

    /// Queues `element`; false when it was refused (full, or finished).
    /// `ignoringLimits` queues it even when full: for the few elements that
    /// carry no frame and must not be lost (an event's begin and end).
    @discardableResult
    public func push(_ element: Element, ignoringLimits: Bool = false) -> Bool {
        let cost = costOf(element)
        let (waiter, accepted) = state.withLock { state -> (CheckedContinuation<Element?, Never>?, Bool) in
            guard !state.finished else { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, true)
            }
            if !ignoringLimits {
                while state.elements.count >= capacity || (state.cost + cost > maxCost && !state.elements.isEmpty) {
                    guard overflow == .dropOldest else {
                        state.dropped += 1
                        return (nil, false)
                    }
                    let oldest = state.elements.removeFirst()
                    state.cost -= costOf(oldest)
                    state.dropped += 1
                }
                if state.cost + cost > maxCost {
                    state.dropped += 1
                    return (nil, false)
                }
            }
            state.elements.append(element)
            state.cost += cost
            return (nil, true)
        }
        waiter?.resume(returning: element)
        return accepted
    }

    /// No more elements: the consumer drains what is queued, then gets nil.
    public func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The oldest element, if any, without waiting.
    public func poll() -> Element? {
        state.withLock { Self.take(&$0, costOf) }
    }

    /// Waits for the next element; nil when finished and drained, or when
    /// the task is cancelled.
    public func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let immediate = state.withLock { state -> Element?? in
                    if let element = Self.take(&state, costOf) { return .some(element) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    private static func take(_ state: inout State, _ costOf: (Element) -> Int) -> Element? {
        guard let element = state.elements.popFirst() else { return nil }
        state.cost -= costOf(element)
        return element
    }
}
