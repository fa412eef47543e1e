import Synchronization
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One message of the events socket with its global `version`, encoded
/// once and shared by every subscriber.
public struct FeedMessage: Sendable {
    public let version: UInt64
    public let type: String
    /// The camera the message concerns, if any (live sockets filter on it).
    public let camera: String?
    /// The JSON text as sent.
    public let json: String
    /// The message itself, for subscribers that act on it (metrics, MQTT)
    /// rather than forward the text.
    public let message: ServerMessage
    /// The cluster node the message came from; nil for this node's own.
    public let origin: String?

    init(version: UInt64, message: ServerMessage, origin: String? = nil) {
        self.version = version
        self.origin = origin
        self.type = message.type
        self.camera = message.camera
        self.json = WireJSON.text(message)
        self.message = message
    }
}

/// Receives events from an `ChangeFeed`.
///
/// `deliver` is called with the feed's lock held, in strictly increasing
/// version order; it must not block (append to a bounded queue and return).
public protocol FeedSubscriber: AnyObject, Sendable {
    func deliver(_ event: FeedMessage)
    /// The feed is shutting down: no more events will come.
    func finishFeed()
}

/// The single source of truth for what clients are told: every camera's
/// latest state and every event, each stamped with a global version.
///
/// Versions are assigned here, under the same lock that records the state
/// and hands the event to the subscribers, so every subscriber sees versions
/// strictly increasing, and a subscription's snapshot (for `hello`) and the
/// events after it never overlap or leave a gap.
public final class ChangeFeed: Sendable {
    /// A consistent picture: every camera's state as of `version`.
    public struct Snapshot: Sendable {
        public let version: UInt64
        public let cameras: [CameraState]
    }

    /// Identifies this run of the server; a client that sees it change knows
    /// the server restarted.
    public let serverID: String
    /// When this run started (ISO 8601).
    public let startedAt: String

    private struct State {
        var version: UInt64 = 0
        var states: [String: CameraState] = [:]
        var order: [String] = []
        var subscribers: [ObjectIdentifier: any FeedSubscriber] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    public init(serverID: String = UUID().uuidString.lowercased(), startedAt: Date = Date()) {
        self.serverID = serverID
        self.startedAt = ISO8601.string(startedAt)
    }

    /// The version of the last event.
    public var currentVersion: UInt64 { state.withLock { $0.version } }

    /// Records a camera's new state, stamps it with the next version, and
    /// sends it as a `state` event. Returns the version given.
    @discardableResult
    public func publishState(_ cameraState: CameraState) -> UInt64 {
        state.withLock { state in
            state.version += 1
            var stamped = cameraState
            stamped.version = state.version
            if state.states.updateValue(stamped, forKey: stamped.id) == nil {
                state.order.append(stamped.id)
            }
            Self.deliver(
                FeedMessage(version: state.version, message: .state(version: state.version, camera: stamped)),
                to: state)
            return state.version
        }
    }

    /// Sends a message of another kind (motion, capture, session), made by
    /// `message` with the version it is given. `origin`: the cluster node
    /// it was relayed from.
    @discardableResult
    public func publish(origin: String? = nil, _ message: (_ version: UInt64) -> ServerMessage) -> UInt64 {
        state.withLock { state in
            state.version += 1
            Self.deliver(
                FeedMessage(version: state.version, message: message(state.version), origin: origin), to: state)
            return state.version
        }
    }

    /// The latest state of one camera.
    public func latestState(of camera: String) -> CameraState? {
        state.withLock { $0.states[camera] }
    }

    /// Every camera's latest state, in the order they were first published.
    public func snapshot() -> Snapshot {
        state.withLock { Self.snapshot(of: $0) }
    }

    /// Adds a subscriber, which then receives exactly the events after the
    /// snapshot handed to `prime`. `prime` runs under the feed's lock, before any
    /// later event reaches the subscriber: it is where a socket queues its
    /// `hello`. Returns false after `finishAll()`.
    @discardableResult
    public func subscribe(_ subscriber: any FeedSubscriber, prime: (Snapshot) -> Void = { _ in }) -> Bool {
        state.withLock { state in
            guard !state.finished else { return false }
            state.subscribers[ObjectIdentifier(subscriber)] = subscriber
            prime(Self.snapshot(of: state))
            return true
        }
    }

    public func unsubscribe(_ subscriber: any FeedSubscriber) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscription (shutdown). Later subscriptions are refused.
    public func finishAll() {
        let subscribers = state.withLock { state -> [any FeedSubscriber] in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.finishFeed()
        }
    }

    /// The `hello` message for a subscriber that starts from `snapshot`.
    public func hello(_ snapshot: Snapshot) -> ServerMessage {
        .hello(
            .init(serverID: serverID, startedAt: startedAt, version: snapshot.version, cameras: snapshot.cameras))
    }

    // MARK: - Under the lock

    private static func snapshot(of state: State) -> Snapshot {
        Snapshot(version: state.version, cameras: state.order.compactMap { state.states[$0] })
    }

    private static func deliver(_ event: FeedMessage, to state: State) {
        for subscriber in state.subscribers.values {
            subscriber.deliver(event)
        }
    }
}
