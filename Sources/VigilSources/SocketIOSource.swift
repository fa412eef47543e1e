import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `kind: socketio`: frames from a Socket.IO v5 server over Engine.IO v4,
/// WebSocket transport only.
///
/// Every attempt is a cold start: a new WebSocket, a new Engine.IO session
/// (the server's open packet), a new namespace connect. Nothing of a broken
/// attempt is reused, so a client can never believe it is "already
/// connected" to a session that is gone. The server's heartbeat (`2`,
/// answered `3`) missing for `pingInterval + pingTimeout` ends the attempt
/// like a missing frame does.
public struct SocketIOSource: FrameSource {
    public let context: SourceContext
    public let config: SocketIOConfig

    /// How long the server has to send its open packet.
    static let openTimeout: Duration = .seconds(10)

    public init(context: SourceContext, config: SocketIOConfig) {
        self.context = context
        self.config = config
    }

    /// The Engine.IO WebSocket URL of `config.url`.
    static func engineURL(_ url: String) -> String {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        return base + "/socket.io/?EIO=4&transport=websocket"
    }

    public func run(into sink: FrameSink) async throws {
        let maxFrameBytes = context.maxFrameBytes
        var configuration = WebSocketClientConfiguration()
        // Frames come as binary attachments or base64 in text: room for both.
        configuration.maxFrameSize = maxFrameBytes * 2 + 64 * 1024
        configuration.closeTimeout = .seconds(1)
        // Engine.IO has its own heartbeat; WebSocket pings are not part of it.
        configuration.autoPing = .disabled
        let session = SocketIOSession(config: config, maxFrameBytes: maxFrameBytes, sink: sink, logger: context.logger)
        let failure = Mutex<SourceEnded?>(nil)
        let client = WebSocketClient(
            url: Self.engineURL(config.url), configuration: configuration, logger: context.logger
        ) { inbound, outbound, _ in
            do {
                try await session.run(inbound: inbound, outbound: outbound)
            } catch let ended as SourceEnded {
                failure.withLock { $0 = ended }
            }
        }
        let closeFrame: WebSocketCloseFrame?
        do {
            closeFrame = try await client.run()
        } catch {
            throw SourceEnded("socketio \(config.url): \(error)")
        }
        if let ended = failure.withLock({ $0 }) { throw ended }
        let reason = closeFrame.map { "code \($0.closeCode)\($0.reason.map { ", \($0)" } ?? "")" } ?? "no close frame"
        throw SourceEnded("socketio \(config.url): the server closed the connection (\(reason))")
    }
}

/// One attempt's conversation: open, namespace connect, heartbeat, events.
final class SocketIOSession: Sendable {
    private let config: SocketIOConfig
    private let maxFrameBytes: Int
    private let sink: FrameSink
    private let logger: Logger
    /// When the last heartbeat (or the connection) came, and how long the
    /// server may stay silent.
    private let heartbeat = Mutex<(last: ContinuousClock.Instant, limit: Duration)>(
        (.now, SocketIOSource.openTimeout))
    /// Since when a binary event waits for its attachments, and how many came.
    private let pendingSince = Mutex<(since: ContinuousClock.Instant, needed: Int, received: Int)?>(nil)

    init(config: SocketIOConfig, maxFrameBytes: Int, sink: FrameSink, logger: Logger) {
        self.config = config
        self.maxFrameBytes = maxFrameBytes
        self.sink = sink
        self.logger = logger
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.read(inbound: inbound, outbound: outbound) }
            group.addTask { try await self.watchHeartbeat() }
            // The first to end (with an error, or the connection's end) ends both.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Ends the attempt when the server's heartbeat stops, or when a binary
    /// event's attachments do not come within the same window (a server
    /// sends them right after the event).
    private func watchHeartbeat() async throws {
        while true {
            try await Task.sleep(for: .milliseconds(250))
            let (last, limit) = heartbeat.withLock { $0 }
            let waiting = pendingSince.withLock { $0 }
            let now = ContinuousClock.now
            if now - last > limit {
                throw SourceEnded("socketio \(config.url): no heartbeat from the server for \(limit)")
            }
            if let waiting, now - waiting.since > limit {
                throw SourceEnded(
                    "socketio \(config.url): a binary event announced \(waiting.needed) attachment(s); "
                        + "\(waiting.received) came in \(limit)")
            }
        }
    }

    /// A binary event whose attachments are still coming.
    private struct PendingEvent {
        var data: JSONValue?
        var needed: Int
        var buffers: [ByteBuffer] = []
    }

    private func read(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        var pending: PendingEvent?
        for try await message in inbound.messages(maxSize: maxFrameBytes * 2 + 64 * 1024) {
            switch message {
            case .binary(let buffer):
                guard var event = pending else {
                    sink.reject("a binary message outside a binary event")
                    continue
                }
                event.buffers.append(buffer)
                if event.buffers.count == event.needed {
                    pending = nil
                    pendingSince.withLock { $0 = nil }
                    deliver(event.data, attachments: event.buffers)
                } else {
                    pending = event
                    pendingSince.withLock { $0?.received = event.buffers.count }
                }
            case .text(let text):
                guard let packet = EngineIOPacket.parse(text) else {
                    if text.hasPrefix("0{") {
                        throw SourceEnded(
                            "socketio \(config.url): the server's open packet has no usable pingInterval and pingTimeout: \(Self.excerpt(text))"
                        )
                    }
                    sink.reject("not an Engine.IO or Socket.IO packet: \(Self.excerpt(text))")
                    continue
                }
                switch packet {
                case .open(let interval, let timeout):
                    heartbeat.withLock { $0 = (.now, interval + timeout) }
                    let prefix = config.namespace == "/" ? "" : config.namespace + ","
                    try await outbound.write(.text("40" + prefix + (config.auth ?? "")))
                case .ping:
                    heartbeat.withLock { $0.last = .now }
                    try await outbound.write(.text("3"))
                case .close:
                    throw SourceEnded("socketio \(config.url): the server closed the Engine.IO session")
                case .message(let socket) where socket.namespace == config.namespace:
                    switch socket.kind {
                    case .connect:
                        logger.info("socketio: connected to namespace \(config.namespace)")
                    case .connectError:
                        let reason = socket.data?["message"]?.stringValue ?? "no reason given"
                        throw SourceEnded("socketio \(config.url): namespace \(config.namespace) refused: \(reason)")
                    case .disconnect:
                        throw SourceEnded(
                            "socketio \(config.url): the server disconnected namespace \(config.namespace)")
                    case .event:
                        deliver(socket.data, attachments: [])
                    case .binaryEvent:
                        if let unfinished = pending {
                            // Never a frame from parts of two events.
                            sink.reject(
                                "a binary event got \(unfinished.buffers.count) of \(unfinished.needed) attachment(s) before the next event"
                            )
                        }
                        if socket.attachments == 0 {
                            pending = nil
                            pendingSince.withLock { $0 = nil }
                            deliver(socket.data, attachments: [])
                        } else {
                            pending = PendingEvent(data: socket.data, needed: socket.attachments)
                            pendingSince.withLock { $0 = (.now, socket.attachments, 0) }
                        }
                    case .ack, .binaryAck:
                        break
                    }
                case .message, .pong, .other:
                    break
                }
            }
        }
        let (count, last) = sink.rejections
        throw SourceEnded(
            "socketio \(config.url): connection ended (\(count) messages were not frames\(last.map { "; the last: \($0)" } ?? ""))"
        )
    }

    /// The start of a text message, for a log line.
    private static func excerpt(_ text: String) -> String {
        text.count <= 40 ? text : String(text.prefix(40)) + "…"
    }

    /// Publishes the JPEG an event carries, or records why it carries none.
    private func deliver(_ data: JSONValue?, attachments: [ByteBuffer]) {
        guard case .array(let items)? = data, let name = items.first?.stringValue, items.count >= 2 else {
            sink.reject("an event without a name and an argument")
            return
        }
        guard name == config.event else {
            sink.reject("an event named \(name), not \(config.event)")
            return
        }
        let argument = items[1]
        let bytes: ByteBuffer
        switch config.payload {
        case .binary:
            guard case .bool(true)? = argument["_placeholder"], let index = argument["num"]?.intValue,
                attachments.indices.contains(index)
            else {
                sink.reject("a \(name) event without a binary attachment")
                return
            }
            bytes = attachments[index]
        case .base64(let path):
            var value: JSONValue? = argument
            for key in path { value = value?[key] }
            guard let text = value?.stringValue else {
                sink.reject("a \(name) event without a string at \(path.joined(separator: "."))")
                return
            }
            guard text.utf8.count <= maxFrameBytes / 3 * 4 + 4, let decoded = Data(base64Encoded: text) else {
                sink.reject("a \(name) event whose base64 is invalid or over max_frame_bytes")
                return
            }
            bytes = ByteBuffer(bytes: decoded)
        }
        guard bytes.readableBytes <= maxFrameBytes else {
            sink.reject("a frame of \(bytes.readableBytes) bytes, over max_frame_bytes (\(maxFrameBytes))")
            return
        }
        guard let jpeg = JPEGFrameParser.single(bytes, maxFrameBytes: maxFrameBytes) else {
            sink.reject("a \(name) payload that is not one JPEG")
            return
        }
        sink.deliver(jpeg)
    }
}
