import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One event as the events socket sends it: a JSON object with `type` and a
/// global `version`, encoded once and shared by every subscriber.
public struct ServerEvent: Sendable {
    public let version: UInt64
    public let type: String
    /// The camera the event concerns, if any (live sockets filter on it).
    public let camera: String?
    /// The JSON text as sent.
    public let json: String
}

/// Receives events from an `EventBus`.
///
/// `deliver` is called with the bus lock held, in strictly increasing
/// version order; it must not block (append to a bounded queue and return).
public protocol EventSubscriber: AnyObject, Sendable {
    func deliver(_ event: ServerEvent)
    /// The bus is shutting down: no more events will come.
    func finishEvents()
}

/// The single source of truth for what clients are told: every camera's
/// latest state and every event, each stamped with a global version.
///
/// Versions are assigned here, under the same lock that records the state
/// and hands the event to the subscribers, so every subscriber sees versions
/// strictly increasing, and a subscription's snapshot (for `hello`) and the
/// events after it never overlap or leave a gap.
public final class EventBus: Sendable {
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
        var subscribers: [ObjectIdentifier: any EventSubscriber] = [:]
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
            let event = ServerEvent(
                version: state.version, type: "state", camera: stamped.id,
                json: Self.encode(StateEvent(version: state.version, camera: stamped)))
            Self.deliver(event, to: state)
            return state.version
        }
    }

    /// Sends an event of another kind (motion, capture, session): `payload`'s
    /// fields are written next to `type` and `version`.
    @discardableResult
    public func publish(type: String, camera: String?, payload: some Encodable & Sendable) -> UInt64 {
        state.withLock { state in
            state.version += 1
            let event = ServerEvent(
                version: state.version, type: type, camera: camera,
                json: Self.encode(Envelope(type: type, version: state.version, payload: payload)))
            Self.deliver(event, to: state)
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
    /// snapshot handed to `prime`. `prime` runs under the bus lock, before any
    /// later event reaches the subscriber: it is where a socket queues its
    /// `hello`. Returns false after `finishAll()`.
    @discardableResult
    public func subscribe(_ subscriber: any EventSubscriber, prime: (Snapshot) -> Void = { _ in }) -> Bool {
        state.withLock { state in
            guard !state.finished else { return false }
            state.subscribers[ObjectIdentifier(subscriber)] = subscriber
            prime(Self.snapshot(of: state))
            return true
        }
    }

    public func unsubscribe(_ subscriber: any EventSubscriber) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscription (shutdown). Later subscriptions are refused.
    public func finishAll() {
        let subscribers = state.withLock { state -> [any EventSubscriber] in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.finishEvents()
        }
    }

    /// The `hello` message for a subscriber that starts from `snapshot`.
    public func hello(_ snapshot: Snapshot) -> String {
        Self.encode(
            Hello(
                serverID: serverID, startedAt: startedAt, version: snapshot.version,
                cameras: snapshot.cameras))
    }

    /// A `state` message for one camera's state (as live sockets send on connect).
    public static func stateMessage(_ cameraState: CameraState) -> String {
        encode(StateEvent(version: cameraState.version, camera: cameraState))
    }

    // MARK: - Encoding

    private static func snapshot(of state: State) -> Snapshot {
        Snapshot(version: state.version, cameras: state.order.compactMap { state.states[$0] })
    }

    private static func deliver(_ event: ServerEvent, to state: State) {
        for subscriber in state.subscribers.values {
            subscriber.deliver(event)
        }
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            // Our own types always encode; say so loudly if one does not.
            return #"{"type":"error","code":"encoding_failed","message":"\#(error)"}"#
        }
    }

    private struct StateEvent: Encodable {
        let type = "state"
        let version: UInt64
        let camera: CameraState
    }

    private struct Hello: Encodable {
        let type = "hello"
        let serverID: String
        let startedAt: String
        let version: UInt64
        let cameras: [CameraState]

        enum CodingKeys: String, CodingKey {
            case type, version, cameras
            case serverID = "server_id"
            case startedAt = "started_at"
        }
    }

    private struct Envelope<Payload: Encodable>: Encodable {
        let type: String
        let version: UInt64
        let payload: Payload

        enum CodingKeys: String, CodingKey { case type, version }

        func encode(to encoder: any Encoder) throws {
            try payload.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type, forKey: .type)
            try container.encode(version, forKey: .version)
        }
    }
}

/// ISO 8601 timestamps as the API writes them (UTC, milliseconds).
public enum ISO8601 {
    public static func string(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().timeZone(separator: .omitted).time(includingFractionalSeconds: true)
                .timeSeparator(.colon).dateSeparator(.dash))
    }

    /// `seconds` since 1970 as ISO 8601; nil stays nil.
    public static func string(seconds: Double?) -> String? {
        seconds.map { string(Date(timeIntervalSince1970: $0)) }
    }

    /// Parses `2026-11-21T10:31:12Z` (fractional seconds and offsets allowed).
    public static func date(_ text: String) -> Date? {
        if let date = try? Date(
            text,
            strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)
                .timeZone(separator: .omitted).timeSeparator(.colon).dateSeparator(.dash))
        {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }
}
