import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilAPI

/// One WebSocket path of a Vigil server, kept open for as long as the
/// calling task runs: `LiveView` and `StateMirror` are built on it.
///
/// Every attempt is a new connection; nothing of a broken one is reused.
/// A connection on which nothing arrives for `silenceLimit` is a zombie and
/// is closed: the server sends a `ping` every 15 s on every socket, and this
/// side asks for a `pong` every third of the limit, so a live connection is
/// never silent that long, even while a camera sends no frames (stale, or
/// `capturing` with `pause_live`). Attempts are spaced by a capped, jittered
/// backoff that starts again from its floor after a connection that worked;
/// there is no attempt limit.
struct ReconnectingSocket: Sendable {
    let client: VigilClient
    let path: String
    var silenceLimit: Duration
    var backoff: Backoff
    var maxMessageBytes: Int

    enum Event: Sendable {
        /// The socket is open (attempt 1 is the first).
        case connected(attempt: Int)
        case message(WebSocketMessage)
        /// The connection ended; the next attempt starts in `retryIn`.
        case disconnected(reason: String, retryIn: Duration)
    }

    /// What `handle` answers: go on, or drop this connection (the reason is
    /// reported) and connect again.
    typealias Handler = @Sendable (Event) async -> String?

    /// Connects, reconnects, and hands every event to `handle` until the
    /// calling task is cancelled.
    func run(_ handle: @escaping Handler) async {
        var backoff = self.backoff
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            let outcome = await connectOnce(attempt: attempt, handle)
            if Task.isCancelled { return }
            if outcome.received { backoff.reset() }
            let delay = backoff.next()
            _ = await handle(.disconnected(reason: outcome.reason, retryIn: delay))
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    /// Whether anything arrived, and why the connection ended.
    private func connectOnce(
        attempt: Int, _ handle: @escaping Handler
    ) async -> (received: Bool, reason: String) {
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = maxMessageBytes
        configuration.closeTimeout = .seconds(1)
        // The application-level ping below finds a silent server; WebSocket
        // pings would be answered by a server whose handlers are stuck.
        configuration.autoPing = .disabled
        if let token = client.token { configuration.additionalHeaders[.authorization] = "Bearer \(token)" }
        var logger = Logger(label: "vigil.client.socket")
        logger.logLevel = .critical
        let activity = Activity()
        let silenceLimit = self.silenceLimit
        let maxMessageBytes = self.maxMessageBytes
        let socket = WebSocketClient(
            url: client.url(path, webSocket: true), configuration: configuration, logger: logger
        ) { inbound, outbound, _ in
            _ = await handle(.connected(attempt: attempt))
            activity.heard()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: maxMessageBytes) {
                            activity.heard(message: true)
                            if let reason = await handle(.message(message)) { throw Dropped(reason: reason) }
                        }
                    }
                    group.addTask {
                        let ping = WireJSON.text(ClientMessage.ping)
                        while true {
                            try await Task.sleep(for: silenceLimit / 3)
                            if activity.silence > silenceLimit { throw SocketSilent(limit: silenceLimit) }
                            try await outbound.write(.text(ping))
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            } catch let silent as SocketSilent {
                activity.end("nothing from the server for \(silent.limit)")
            } catch let dropped as Dropped {
                activity.end(dropped.reason)
            }
        }
        do {
            let close = try await socket.run()
            if let reason = activity.endReason { return (activity.received, reason) }
            let why = close.map { "closed by the server: \($0.closeCode)\($0.reason.map { ", \($0)" } ?? "")" }
            return (activity.received, why ?? "the connection ended")
        } catch {
            return (activity.received, activity.endReason ?? "\(error)")
        }
    }
}

/// What one connection heard, for its watchdog and its outcome.
private final class Activity: Sendable {
    private struct State {
        var last = ContinuousClock.now
        var received = false
        var endReason: String?
    }
    private let state = Mutex(State())

    func heard(message: Bool = false) {
        state.withLock {
            $0.last = .now
            if message { $0.received = true }
        }
    }

    func end(_ reason: String) { state.withLock { $0.endReason = reason } }

    var silence: Duration { ContinuousClock.now - state.withLock { $0.last } }
    var received: Bool { state.withLock { $0.received } }
    var endReason: String? { state.withLock { $0.endReason } }
}

/// The server stayed silent past the limit: a zombie connection.
private struct SocketSilent: Error {
    let limit: Duration
}

/// The handler refused what came (a gap in the versions, say).
private struct Dropped: Error {
    let reason: String
}
