import Synchronization
import VigilAPI

/// A local copy of every camera's state on one Vigil server, correct at all
/// times, from its events socket (`/api/v1/events`).
///
/// ```swift
/// let mirror = StateMirror(client: vigil)
/// let changes = mirror.changes()
/// Task { await mirror.run() }
/// for await change in changes { print(change, mirror.snapshot.cameras["porch"]?.phase as Any) }
/// ```
///
/// The socket's `hello` is the whole truth and replaces the copy (after a
/// reconnect, and when a new `server_id` says the server restarted); after
/// it every event carries the next version. An event at or below the
/// version held is old news and ignored; a version skipped (or a `ping`
/// announcing a newer version than the copy has) means something was
/// missed, so the connection is dropped and the next `hello` starts over.
/// Reconnection and zombie detection are those of `LiveView`.
public final class StateMirror: Sendable {
    /// The copy at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// The server's identity; nil before the first `hello`.
        public var serverID: String?
        /// The version of the last change applied.
        public var version: UInt64 = 0
        public var cameras: [String: CameraState] = [:]
        /// Whether the socket is open now. While it is not, `cameras` is the
        /// last state known and may be old.
        public var connected = false
    }

    /// What changed in the copy.
    public enum Change: Sendable, Equatable {
        /// A `hello` replaced everything; `serverRestarted` when its
        /// `server_id` differs from the one before.
        case replaced(Snapshot, serverRestarted: Bool)
        case camera(CameraState)
        /// A motion, capture or ingest session event.
        case event(ServerMessage)
        case connected
        case disconnected(reason: String)
    }

    public let client: VigilClient
    public var silenceLimit: Duration { settings.silenceLimit }
    private let settings: (silenceLimit: Duration, backoff: Backoff)
    private let state = Mutex(State())

    private struct State {
        var snapshot = Snapshot()
        var subscribers: [Int: AsyncStream<Change>.Continuation] = [:]
        var nextSubscriber = 0
    }

    public init(
        client: VigilClient, silenceLimit: Duration = .seconds(10),
        backoff: Backoff = Backoff(initial: .milliseconds(250), max: .seconds(10))
    ) {
        self.client = client
        self.settings = (silenceLimit, backoff)
    }

    /// The copy now.
    public var snapshot: Snapshot { state.withLock { $0.snapshot } }

    /// The changes from now on. A reader more than `buffer` changes behind
    /// loses the oldest of them; `snapshot` stays correct either way.
    public func changes(buffer: Int = 1024) -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let id = state.withLock { state in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Keeps the copy up to date until the calling task is cancelled.
    public func run() async {
        let socket = ReconnectingSocket(
            client: client, path: APIPath.eventsSocket, silenceLimit: settings.silenceLimit,
            backoff: settings.backoff, maxMessageBytes: 4 << 20)
        await socket.run { [self] event in apply(event) }
        state.withLock { $0.snapshot.connected = false }
    }

    /// Applies one socket event; a reason when the connection must start over.
    private func apply(_ event: ReconnectingSocket.Event) -> String? {
        switch event {
        case .connected:
            // Not `connected` until the hello: before it the copy is old.
            return nil
        case .disconnected(let reason, _):
            let wasConnected = state.withLock { state -> Bool in
                defer { state.snapshot.connected = false }
                return state.snapshot.connected
            }
            if wasConnected { publish(.disconnected(reason: reason)) }
            return nil
        case .message(.binary):
            return nil
        case .message(.text(let text)):
            guard let message = try? WireJSON.decode(ServerMessage.self, from: text) else { return nil }
            return apply(message)
        }
    }

    private func apply(_ message: ServerMessage) -> String? {
        if case .hello(let hello) = message {
            let (snapshot, restarted) = state.withLock { state in
                let restarted = state.snapshot.serverID.map { $0 != hello.serverID } ?? false
                state.snapshot = Snapshot(
                    serverID: hello.serverID, version: hello.version,
                    cameras: Dictionary(hello.cameras.map { ($0.id, $0) }, uniquingKeysWith: { $1 }), connected: true)
                return (state.snapshot, restarted)
            }
            publish(.connected)
            publish(.replaced(snapshot, serverRestarted: restarted))
            return nil
        }
        guard let version = message.version else { return nil }
        let held = state.withLock { $0.snapshot }
        guard held.serverID != nil else { return "an event before the hello" }
        if case .ping = message {
            return version > held.version ? "the server is at version \(version), this copy at \(held.version)" : nil
        }
        if version <= held.version { return nil }
        guard version == held.version + 1 else {
            return "version \(version) follows \(held.version): something was missed"
        }
        state.withLock { state in
            state.snapshot.version = version
            if case .state(_, let camera) = message { state.snapshot.cameras[camera.id] = camera }
        }
        if case .state(_, let camera) = message {
            publish(.camera(camera))
        } else {
            publish(.event(message))
        }
        return nil
    }

    private func publish(_ change: Change) {
        for subscriber in state.withLock({ Array($0.subscribers.values) }) {
            subscriber.yield(change)
        }
    }
}
