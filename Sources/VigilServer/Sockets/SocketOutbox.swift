import NIOCore
import Synchronization
import VigilAPI
import VigilCore

/// The text messages one WebSocket has waiting to be sent, filled by the
/// change feed and the socket's own replies and drained by the socket's
/// single sender task. (Live frames take another path: `LiveSocketViewer`.)
///
/// Messages (state and other events, replies) keep their order in a bounded
/// queue. A socket whose queue overflows is closed: it reconnects and starts
/// from a fresh `hello`, which is correct, whereas skipping events would
/// leave it wrong.
final class SocketOutbox: FeedSubscriber {
    enum Item: Sendable {
        case text(String)
        /// Stop sending and close with this code and reason.
        case close(code: UInt16, reason: String)
    }

    private struct State {
        var texts = CircularBuffer<String>()
        var waiter: CheckedContinuation<Item?, Never>?
        var closing: (code: UInt16, reason: String)?
        var closeTaken = false
        var sent = 0
        var writeStartedAt: ContinuousClock.Instant?
        var lastInbound = ContinuousClock.now

        mutating func take() -> Item? {
            if let text = texts.popFirst() { return .text(text) }
            if let closing, !closeTaken {
                closeTaken = true
                return .close(code: closing.code, reason: closing.reason)
            }
            return nil
        }
    }

    /// Event types this socket forwards; nil forwards every type.
    private let eventTypes: Set<String>?
    /// Cameras whose events this socket forwards; nil forwards events of
    /// every camera and events about no camera.
    private let cameras: Set<String>?
    let maxQueuedTexts: Int
    private let state = Mutex(State())

    init(cameras: Set<String>?, eventTypes: Set<String>?, maxQueuedTexts: Int = 512) {
        self.cameras = cameras
        self.eventTypes = eventTypes
        self.maxQueuedTexts = maxQueuedTexts
    }

    /// Whether this socket forwards events of `camera`.
    func wants(camera: String) -> Bool {
        cameras?.contains(camera) ?? true
    }

    var sent: Int { state.withLock { $0.sent } }

    /// When the write in progress started; nil when none is.
    var writeStartedAt: ContinuousClock.Instant? { state.withLock { $0.writeStartedAt } }

    // MARK: Producers

    /// A text message of this socket's own (a reply, a heartbeat).
    func send(text: String) {
        enqueue(text)
    }

    /// A message of this socket's own, in the wire's spelling.
    func send(_ message: some Encodable) {
        enqueue(WireJSON.text(message))
    }

    func deliver(_ event: FeedMessage) {
        if let eventTypes, !eventTypes.contains(event.type) { return }
        if let cameras {
            guard let camera = event.camera, cameras.contains(camera) else { return }
        }
        enqueue(event.json)
    }

    func finishFeed() {
        close(code: 1001, reason: "server shutting down")
    }

    /// Asks the sender to close the socket after the queued messages. The
    /// first reason given wins.
    func close(code: UInt16, reason: String) {
        let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
            guard state.closing == nil else { return nil }
            state.closing = (code, reason)
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.closeTaken = true
            return waiter
        }
        waiter?.resume(returning: .close(code: code, reason: reason))
    }

    /// The client is gone: nothing more is sent, not even a close frame;
    /// the sender's `next()` returns nil.
    func abandon() {
        let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
            if state.closing == nil { state.closing = (1001, "client gone") }
            state.closeTaken = true
            state.texts.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    private func enqueue(_ text: String) {
        let (waiter, overflowed) = state.withLock { state -> (CheckedContinuation<Item?, Never>?, Bool) in
            guard state.closing == nil else { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, false)
            }
            guard state.texts.count < maxQueuedTexts else { return (nil, true) }
            state.texts.append(text)
            return (nil, false)
        }
        if overflowed {
            close(code: 1008, reason: "too slow: more than \(maxQueuedTexts) messages waiting; reconnect")
        } else {
            waiter?.resume(returning: .text(text))
        }
    }

    // MARK: Consumer

    /// The next message to send; nil when the socket should end (after a
    /// `close` item, or when the task is cancelled).
    func next() async -> Item? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
                let immediate = state.withLock { state -> Item?? in
                    if let item = state.take() { return .some(item) }
                    if state.closing != nil || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Item?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// The reader calls this for every message from the client (idle timeout).
    func touch() {
        state.withLock { $0.lastInbound = .now }
    }

    var lastInbound: ContinuousClock.Instant { state.withLock { $0.lastInbound } }

    /// The sender calls these around every write (for the stall watchdog).
    func writeStarted() {
        state.withLock { $0.writeStartedAt = .now }
    }

    func writeEnded() {
        state.withLock {
            $0.writeStartedAt = nil
            $0.sent += 1
        }
    }
}
