import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The WebSocket endpoints: `/cameras/{id}/live`, `/api/v1/live` and
/// `/api/v1/events`.
///
/// Every socket has one `SocketOutbox` for its text messages (bounded) and
/// three tasks: a sender draining the outbox, a reader answering the client's
/// messages, and a watchdog that sends the heartbeat and closes a socket
/// whose write has not completed for `stallTimeout`. A live socket's frames
/// take the MJPEG streams' path instead (`LiveSocketViewer`): no task and no
/// queue per frame. Whatever the client
/// sends, it gets a JSON error or a close with a reason; nothing it sends
/// reaches the cameras.
///
/// Requests that cannot be served (unknown camera, too many viewers) are
/// upgraded anyway and closed at once with a JSON error and a close reason:
/// a browser's WebSocket API shows close reasons, never an HTTP status.
struct LiveSockets: Sendable {
    let registry: CameraRegistry
    let fanouts: ViewerFanouts
    let maxClientsPerCamera: Int
    let logger: Logger
    var heartbeat: Duration = .seconds(15)
    var stallTimeout: Duration = .seconds(30)
    /// Largest message a client may send (they only send small JSON).
    static let maxMessageBytes = 16 * 1024
    /// Events sockets open at once.
    static let maxEventSockets = 256
    let eventSockets = SocketCount()

    func register(on router: inout SocketRouter) {
        router.add("/cameras/{id}/live") { socket in
            await serveLive(cameras: [socket.parameters["id"] ?? ""], tagged: false, socket: socket)
        }
        router.add("/api/v1/live") { socket in
            let query = socket.uri.queryParameters.get("cameras") ?? ""
            var cameras: [String] = []
            for id in query.split(separator: ",").map(String.init) where !cameras.contains(id) {
                cameras.append(id)
            }
            if cameras.isEmpty { cameras = registry.cameras.map(\.id) }
            await serveLive(cameras: cameras, tagged: true, socket: socket)
        }
        router.add("/api/v1/events") { socket in
            await serveEvents(socket: socket)
        }
    }

    // MARK: - Endpoints

    private func serveLive(cameras ids: [String], tagged: Bool, socket: SocketConnection) async {
        let (inbound, outbound, channel) = (socket.inbound, socket.outbound, socket.channel)
        var cameras: [Camera] = []
        for id in ids {
            guard Identifier.isValid(id, .camera), let camera = registry.camera(id) else {
                await refuse(outbound, code: "unknown_camera", message: "no camera named '\(id.prefix(64))'")
                return
            }
            guard camera.hub.viewerCount < maxClientsPerCamera else {
                await refuse(
                    outbound, code: "too_many_clients",
                    message: "camera '\(id)' has \(maxClientsPerCamera) viewers, the limit (max_clients_per_camera)",
                    closeCode: 1013)
                return
            }
            cameras.append(camera)
        }
        let outbox = SocketOutbox(cameras: Set(ids), eventTypes: ["state"])
        guard
            registry.feed.subscribe(
                outbox,
                prime: { snapshot in
                    for state in snapshot.cameras where outbox.wants(camera: state.id) {
                        outbox.send(ServerMessage.state(version: state.version, camera: state))
                    }
                })
        else {
            await refuse(outbound, code: "shutting_down", message: "server shutting down", closeCode: 1001)
            return
        }
        defer { registry.feed.unsubscribe(outbox) }
        var socketLogger = logger
        socketLogger[metadataKey: "socket"] = "\(tagged ? "live" : "camera live") \(ids.joined(separator: ","))"
        // Frames bypass the outbox: they reach the socket on its event loop
        // the way MJPEG streams get theirs (the camera's fan-out for that
        // loop, one delivery per socket). Texts keep going through the outbox
        // and its sender; each message, frame or text, is written whole.
        guard
            let viewer = try? await channel.eventLoop.submit({
                try LiveSocketViewer(
                    cameras: cameras, channel: channel, fanouts: fanouts, stallTimeout: stallTimeout,
                    framing: tagged ? LiveSocketFraming.tagged : LiveSocketFraming.untagged,
                    logger: socketLogger,
                    onHubFinished: { outbox.close(code: 1001, reason: "server shutting down") })
            }).get()
        else {
            await refuse(outbound, code: "shutting_down", message: "server shutting down", closeCode: 1001)
            return
        }
        await Self.run(
            outbox: outbox, outbound: outbound, channel: channel, logger: socketLogger, heartbeat: heartbeat,
            stallTimeout: stallTimeout, feed: registry.feed,
            // No frame may follow the close message.
            beforeClose: { viewer.detach() },
            reader: { await Self.read(inbound: inbound, outbox: outbox) })
        viewer.detach()
    }

    private func serveEvents(socket: SocketConnection) async {
        let (inbound, outbound, channel) = (socket.inbound, socket.outbound, socket.channel)
        guard eventSockets.acquire(limit: Self.maxEventSockets) else {
            await refuse(
                outbound, code: "too_many_clients",
                message: "\(Self.maxEventSockets) events sockets are open, the limit", closeCode: 1013)
            return
        }
        defer { eventSockets.release() }
        let outbox = SocketOutbox(cameras: nil, eventTypes: nil)
        let feed = registry.feed
        guard feed.subscribe(outbox, prime: { outbox.send(feed.hello($0)) }) else {
            await refuse(outbound, code: "shutting_down", message: "server shutting down", closeCode: 1001)
            return
        }
        defer { feed.unsubscribe(outbox) }
        // A fixed send buffer (no auto-tuning to megabytes) keeps a client
        // that stopped reading from hiding thousands of events in the kernel:
        // it reaches the outbox limit and is told to reconnect.
        channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: 64 * 1024).whenFailure { _ in }
        var socketLogger = logger
        socketLogger[metadataKey: "socket"] = "events"
        await Self.run(
            outbox: outbox, outbound: outbound, channel: channel, logger: socketLogger, heartbeat: heartbeat,
            stallTimeout: stallTimeout, feed: registry.feed,
            reader: { await Self.read(inbound: inbound, outbox: outbox) })
    }

    // MARK: - One socket

    /// Runs a socket until the client leaves, the outbox asks to close, or a
    /// write stalls.
    /// `reader` reads the client's messages; `heartbeat` (if any) is the
    /// period of the JSON `ping`.
    static func run(
        outbox: SocketOutbox, outbound: WebSocketOutboundWriter, channel: any Channel, logger: Logger,
        heartbeat: Duration?, stallTimeout: Duration, feed: ChangeFeed, idleTimeout: Duration? = nil,
        beforeClose: (@Sendable () -> Void)? = nil,
        reader: @escaping @Sendable () async -> SocketMessageReader.End
    ) async {
        logger.debug("socket opened", metadata: ["remote": "\(channel.remoteAddress?.description ?? "?")"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // A reader whose client left ends the sender; one that asked
                // to close leaves it to the sender, which sends the close
                // frame with its reason.
                if await reader() == .clientGone { outbox.abandon() }
            }
            group.addTask {
                // Heartbeat, stall and idle watchdog. It sleeps until the next
                // thing due instead of polling: hundreds of sockets polling
                // twice a second cost more than their frames.
                var nextPing = heartbeat.map { ContinuousClock.now + $0 }
                var idleClosed = false
                while !Task.isCancelled {
                    let now = ContinuousClock.now
                    // A write that starts after this is noticed at most half
                    // a stall timeout late.
                    var wake = now + stallTimeout / 2
                    if let started = outbox.writeStartedAt { wake = min(wake, started + stallTimeout) }
                    if let nextPing { wake = min(wake, nextPing) }
                    if let idleTimeout, !idleClosed { wake = min(wake, outbox.lastInbound + idleTimeout) }
                    do {
                        try await Task.sleep(until: max(wake, now + .milliseconds(10)), clock: .continuous)
                    } catch { return }
                    if let started = outbox.writeStartedAt, ContinuousClock.now - started > stallTimeout {
                        logger.info("socket stalled: a write waited more than \(stallTimeout), disconnecting")
                        channel.close(promise: nil)
                        return
                    }
                    if let idleTimeout, !idleClosed, ContinuousClock.now - outbox.lastInbound > idleTimeout {
                        idleClosed = true
                        logger.info("closing socket: nothing received for \(idleTimeout)")
                        outbox.send(
                            ServerMessage.error(
                                SocketError(code: "idle_timeout", message: "nothing received for \(idleTimeout)")))
                        outbox.close(code: 1001, reason: "idle for \(idleTimeout)")
                    }
                    if let heartbeat, let due = nextPing, ContinuousClock.now >= due {
                        nextPing = ContinuousClock.now + heartbeat
                        outbox.send(ServerMessage.ping(version: feed.currentVersion))
                    }
                }
            }
            // The sender, the only writer of data messages, decides when the
            // socket ends.
            sending: while let item = await outbox.next() {
                do {
                    switch item {
                    case .text(let text):
                        outbox.writeStarted()
                        try await outbound.write(.text(text))
                        outbox.writeEnded()
                    case .close(let code, let reason):
                        if code != 1001 {
                            logger.info("closing socket: \(reason)")
                        }
                        beforeClose?()
                        try await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: reason)
                        break sending
                    }
                } catch {
                    break sending  // The client is gone.
                }
            }
            group.cancelAll()
        }
        logger.debug("socket closed", metadata: ["sent": "\(outbox.sent)"])
    }

    /// Reads the client's messages: JSON text with a `type`. Answers `ping`;
    /// anything else gets an error.
    static func read(inbound: WebSocketInboundStream, outbox: SocketOutbox) async -> SocketMessageReader.End {
        let reader = SocketMessageReader(maxTextBytes: maxMessageBytes, maxBinaryBytes: maxMessageBytes)
        return await reader.read(
            inbound, outbox: outbox,
            oversize: { _, limit in
                .fatal(
                    SocketError(code: "message_too_large", message: "messages are limited to \(limit) bytes"),
                    closeCode: 1009)
            }
        ) { message in
            switch message {
            case .binary:
                return .rejected(
                    SocketError(
                        code: "unexpected_binary",
                        message:
                            "this socket accepts only JSON text messages (type: \(ClientMessage.acceptedTypes)); binary messages are not accepted"
                    ))
            case .text(let text):
                do throws(MessageDecodingError) {
                    switch try ClientMessage.decode(text.readableBytesView) {
                    case .ping: outbox.send(ServerMessage.pong)
                    }
                    return .accepted
                } catch {
                    return .rejected(SocketError(code: error.code, message: error.message))
                }
            }
        }
    }

    private func refuse(_ outbound: WebSocketOutboundWriter, code: String, message: String, closeCode: UInt16 = 1008)
        async
    {
        logger.info("socket refused: \(message)")
        try? await outbound.write(.text(WireJSON.text(ServerMessage.error(SocketError(code: code, message: message)))))
        try? await outbound.close(WebSocketErrorCode(codeNumber: Int(closeCode)), reason: String(message.prefix(120)))
    }
}

/// Counts open sockets of one kind against a limit.
final class SocketCount: Sendable {
    private let count = Mutex(0)

    func acquire(limit: Int) -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func release() {
        count.withLock { $0 -= 1 }
    }
}
