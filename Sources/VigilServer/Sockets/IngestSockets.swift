import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import VigilAPI
import VigilCore
import VigilSources

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `WS /api/v1/ingest`: the socket side of upload sessions; the protocol
/// itself is `IngestProtocol` (VigilCore).
///
/// A disconnect is logged once, at info level, and nothing is ever sent on a
/// closed socket (replies go through the socket's outbox, which its sender
/// drains only while the socket is open).
struct IngestSockets: Sendable {
    let service: IngestSessions
    let registry: CameraRegistry
    let logger: Logger
    var stallTimeout: Duration = .seconds(30)

    func register(on router: inout SocketRouter) {
        router.add("/api/v1/ingest") { socket in
            await serve(inbound: socket.inbound, outbound: socket.outbound, channel: socket.channel)
        }
    }

    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        let outbox = SocketOutbox(cameras: [], eventTypes: [], maxQueuedTexts: 1024)
        defer { service.unwatch(outbox) }
        var socketLogger = logger
        socketLogger[metadataKey: "socket"] = "ingest \(channel.remoteAddress?.description ?? "?")"
        let registry = self.registry
        let conversation = IngestProtocol(
            sessions: service,
            pushTarget: { camera in
                guard registry.camera(camera) != nil else { return .unknownCamera }
                guard let inbox = registry.inboxes[camera] else { return .notPushCamera }
                return .camera(deliver: { _ = inbox.deliver($0) })
            }, replies: outbox, logger: socketLogger)
        await LiveSockets.run(
            outbox: outbox, outbound: outbound, channel: channel, logger: socketLogger, heartbeat: nil,
            stallTimeout: stallTimeout, feed: registry.feed, idleTimeout: service.config.idleTimeout,
            reader: { await Self.read(inbound, outbox: outbox, conversation: conversation) })
        await conversation.disconnected()
    }

    private static func read(
        _ inbound: WebSocketInboundStream, outbox: SocketOutbox, conversation: IngestProtocol
    ) async -> SocketMessageReader.End {
        let reader = SocketMessageReader(
            maxTextBytes: conversation.maxTextBytes, maxBinaryBytes: conversation.maxFrameBytes)
        return await reader.read(
            inbound, outbox: outbox,
            oversize: { isText, limit in
                isText
                    ? .rejected(
                        SocketError(code: "message_too_large", message: "text messages are limited to \(limit) bytes"))
                    : .rejected(
                        SocketError(
                            code: "frame_too_large",
                            message:
                                "a frame may be at most \(limit) bytes (ingest.max_frame_bytes); it was not stored"))
            }
        ) { message in
            switch message {
            case .text(let text):
                do throws(MessageDecodingError) {
                    return verdict(await conversation.handle(try IngestRequest.decode(text.readableBytesView)))
                } catch {
                    return .rejected(SocketError(code: error.code, message: error.message))
                }
            case .binary(let frame):
                return verdict(await conversation.handleFrame(frame))
            }
        }
    }

    /// The socket's answer to the protocol's verdict: fatal ones close it
    /// with the WebSocket code that says why.
    private static func verdict(_ verdict: IngestVerdict) -> SocketMessageReader.Verdict {
        switch verdict {
        case .accepted: return .accepted
        case .rejected(let error): return .rejected(error)
        case .fatal(let error, .tryLater): return .fatal(error, closeCode: 1013)
        case .fatal(let error, .tooLarge): return .fatal(error, closeCode: 1009)
        case .fatal(let error, .storageFailed): return .fatal(error, closeCode: 1011)
        }
    }
}

/// The ingest socket's outbox takes the protocol's replies.
extension SocketOutbox: SessionWatcher {
    func tell(_ reply: IngestReply) {
        send(reply)
    }
}
