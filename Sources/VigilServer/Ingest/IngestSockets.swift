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

/// `WS /api/v1/ingest`: upload sessions (the protocol is in docs/api.md).
///
/// Every message gets an answer that says what happened; a disconnect is
/// logged once, at info level, and nothing is ever sent on a closed socket
/// (replies go through the socket's outbox, which its sender drains only
/// while the socket is open).
struct IngestSockets: Sendable {
    let service: IngestService
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
        defer { service.unwatch(outbox: outbox) }
        var socketLogger = logger
        socketLogger[metadataKey: "socket"] = "ingest \(channel.remoteAddress?.description ?? "?")"
        let connection = IngestConnection(service: service, registry: registry, outbox: outbox, logger: socketLogger)
        await LiveSockets.run(
            outbox: outbox, outbound: outbound, channel: channel, logger: socketLogger, heartbeat: nil,
            stallTimeout: stallTimeout, bus: registry.events, idleTimeout: service.config.idleTimeout,
            reader: { await connection.read(inbound) }
        ) { _ in }
        connection.disconnected()
    }
}

/// One ingest socket's protocol state. Used by its reader task, then (after
/// that task ended) by `disconnected()`: never by two tasks at once.
final class IngestConnection: @unchecked Sendable {
    private let service: IngestService
    private let registry: CameraRegistry
    private let outbox: SocketOutbox
    private let logger: Logger
    private var config: IngestConfig { service.config }

    private struct Active {
        var record: SessionRecord
        var file: SessionFile
        var inbox: PushInbox?
        var unacked = 0
        var invalid = 0
    }

    private var session: Active?

    init(service: IngestService, registry: CameraRegistry, outbox: SocketOutbox, logger: Logger) {
        self.service = service
        self.registry = registry
        self.outbox = outbox
        self.logger = logger
    }

    /// Largest text message: an attachment in base64 plus its JSON.
    private var maxTextBytes: Int { config.maxAttachmentBytes / 3 * 4 + 64 * 1024 }

    typealias Verdict = SocketMessageReader.Verdict

    func read(_ inbound: WebSocketInboundStream) async -> SocketMessageReader.End {
        let reader = SocketMessageReader(maxTextBytes: maxTextBytes, maxBinaryBytes: config.maxFrameBytes)
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
                    return handle(try IngestRequest.decode(text.readableBytesView))
                } catch {
                    return .rejected(SocketError(code: error.code, message: error.message))
                }
            case .binary(let frame):
                return handleFrame(frame)
            }
        }
    }

    /// The socket is gone: what was received is made durable and the session
    /// stays resumable.
    func disconnected() {
        guard var active = session else { return }
        session = nil
        do {
            try active.file.sync()
        } catch {
            logger.error("session \(active.record.id): \(error)")
        }
        active.file.close()
        active.record.bytes = active.file.bytes
        active.record.state = .interrupted
        active.record.updatedAt = Date().timeIntervalSince1970
        service.save(active.record)
        service.release(active.record.id, owner: ObjectIdentifier(self))
        service.publish(.interrupted, active.record)
        logger.info(
            "session \(active.record.id): client disconnected after \(active.record.frames) frames (\(active.record.bytes) bytes, all stored); resumable for \(config.resumeWindow)"
        )
    }

    // MARK: - Messages

    private func send(_ reply: IngestReply) {
        outbox.send(reply)
    }

    private func reject(_ code: String, _ message: String) -> Verdict {
        .rejected(SocketError(code: code, message: message))
    }

    /// A limit that ends the socket.
    private func refuse(_ code: String, _ message: String, closeCode: UInt16) -> Verdict {
        .fatal(SocketError(code: code, message: message), closeCode: closeCode)
    }

    private func handle(_ request: IngestRequest) -> Verdict {
        switch request {
        case .start(let start): return self.start(start)
        case .attachment(let attachment): return self.attachment(attachment)
        case .end(let frames): return end(expectedFrames: frames)
        case .status(let id): return status(id)
        }
    }

    private func start(_ request: IngestRequest.Start) -> Verdict {
        if let active = session {
            return reject(
                "session_already_started",
                "session \(active.record.id) is already running on this socket; send session_end first")
        }
        var metadata: String?
        if let value = request.metadata, value != .null {
            let text = WireJSON.text(value)
            guard text.utf8.count <= 64 * 1024 else {
                return reject("bad_metadata", "metadata must be JSON of at most 65536 bytes")
            }
            metadata = text
        }
        var inbox: PushInbox?
        if let camera = request.camera {
            guard Identifier.isValid(camera, .camera), registry.camera(camera) != nil else {
                return reject("unknown_camera", "no camera named '\(camera.prefix(64))'")
            }
            guard let push = registry.inboxes[camera] else {
                return reject(
                    "not_push_camera", "camera '\(camera)' is not a push camera; frames cannot be shown on it")
            }
            inbox = push
        }
        let owner = ObjectIdentifier(self)
        if let requested = request.sessionID {
            return resume(requested, inbox: inbox, owner: owner)
        }
        let id = Identifier.newRecordID(prefix: "s")
        switch service.claim(id, owner: owner) {
        case .tooMany:
            return refuse(
                "too_many_sessions", "\(config.maxSessions) sessions are being received (ingest.max_sessions)",
                closeCode: 1013)
        case .busy, .claimed: break
        }
        var record = SessionRecord(id: id, camera: request.camera, metadata: metadata)
        do {
            let dir = service.directory(of: id)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let file = try SessionFile(path: Path.join(dir, "frames.mjpg"), keep: 0)
            try service.store.saveSession(record)
            session = Active(record: record, file: file, inbox: inbox)
        } catch {
            service.release(id, owner: owner)
            return refuse("storage_failed", "cannot store the session: \(error)", closeCode: 1011)
        }
        record.state = .receiving
        send(.started(.init(sessionID: id, nextSeq: 0)))
        service.publish(.started, record)
        logger.info("session \(id): started\(record.camera.map { " (shown on \($0))" } ?? "")")
        return .accepted
    }

    private func resume(_ id: String, inbox: PushInbox?, owner: ObjectIdentifier) -> Verdict {
        guard Identifier.isValid(id, .record), var record = try? service.store.session(id: id) else {
            return reject(
                "unknown_session",
                "no session '\(id.prefix(40))' (an interrupted session is kept for \(config.resumeWindow))")
        }
        guard record.state == .interrupted || record.state == .receiving else {
            return reject("session_closed", "session \(id) has ended (\(record.state.rawValue)); it cannot take frames")
        }
        switch service.claim(id, owner: owner) {
        case .tooMany:
            return refuse(
                "too_many_sessions", "\(config.maxSessions) sessions are being received (ingest.max_sessions)",
                closeCode: 1013)
        case .busy:
            return reject("session_busy", "session \(id) is still attached to another connection; retry shortly")
        case .claimed: break
        }
        do {
            let file = try SessionFile(
                path: Path.join(service.directory(of: id), "frames.mjpg"), keep: record.bytes)
            record.state = .receiving
            record.updatedAt = Date().timeIntervalSince1970
            try service.store.saveSession(record)
            var pushInbox = inbox
            if pushInbox == nil, let camera = record.camera { pushInbox = registry.inboxes[camera] }
            session = Active(record: record, file: file, inbox: pushInbox)
        } catch {
            service.release(id, owner: owner)
            return refuse("storage_failed", "cannot reopen session \(id): \(error)", closeCode: 1011)
        }
        send(.started(.init(sessionID: id, nextSeq: record.frames, resumed: true)))
        service.publish(.resumed, record)
        logger.info("session \(id): resumed at frame \(record.frames)")
        return .accepted
    }

    private func handleFrame(_ message: ByteBuffer) -> Verdict {
        guard var active = session else {
            return reject("no_session", "send session_start before frames; this frame was not stored")
        }
        guard let jpeg = JPEGFrameParser.single(message, maxFrameBytes: config.maxFrameBytes) else {
            active.invalid += 1
            session = active
            return reject(
                "invalid_jpeg",
                "binary message after frame \(active.record.frames) is not one complete JPEG; it was not stored")
        }
        guard active.file.bytes + Int64(message.readableBytes) <= config.maxSessionBytes else {
            _ = commit(&active)
            session = active
            return refuse(
                "session_too_large",
                "the session reached \(config.maxSessionBytes) bytes (ingest.max_session_bytes); end it or start another",
                closeCode: 1009)
        }
        do {
            try active.file.append(message)
        } catch {
            session = active
            return refuse("storage_failed", "cannot store the frame: \(error)", closeCode: 1011)
        }
        active.record.frames += 1
        active.unacked += 1
        _ = active.inbox?.deliver(jpeg)
        if active.unacked >= config.ackEvery {
            guard commit(&active) else {
                session = active
                return refuse("storage_failed", "cannot flush the session to disk", closeCode: 1011)
            }
            send(.ack(received: active.record.frames, bytes: active.record.bytes))
        }
        session = active
        return .accepted
    }

    /// fsync, then the row: what the next ack says is on disk.
    private func commit(_ active: inout Active) -> Bool {
        do {
            try active.file.sync()
            active.record.bytes = active.file.bytes
            active.record.updatedAt = Date().timeIntervalSince1970
            try service.store.saveSession(active.record)
            active.unacked = 0
            return true
        } catch {
            logger.error("session \(active.record.id): \(error)")
            return false
        }
    }

    private func attachment(_ request: IngestRequest.Attachment) -> Verdict {
        guard var active = session else {
            return reject("no_session", "send session_start before attachments")
        }
        let name = request.name
        guard Identifier.isValid(name, .fileName) else {
            return reject(
                "bad_attachment", "an attachment needs a \"name\" of 1-100 letters, digits, '.', '_' or '-'")
        }
        let data: Data
        switch request.encoding ?? .utf8 {
        case .utf8: data = Data(request.data.utf8)
        case .base64:
            guard let decoded = Data(base64Encoded: request.data) else {
                return reject("bad_attachment", "attachment \(name): data is not valid base64")
            }
            data = decoded
        }
        guard data.count <= config.maxAttachmentBytes else {
            return reject(
                "attachment_too_large",
                "attachment \(name) is \(data.count) bytes; the limit is \(config.maxAttachmentBytes) (ingest.max_attachment_bytes)"
            )
        }
        let dir = Path.join(service.directory(of: active.record.id), "attachments")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try data.withUnsafeBytes { try AtomicFile.write($0, to: Path.join(dir, name)) }
            if !active.record.attachments.contains(name) { active.record.attachments.append(name) }
            try service.store.saveSession(active.record)
        } catch {
            return reject("storage_failed", "cannot store attachment \(name): \(error)")
        }
        session = active
        send(.attachmentSaved(name: name, bytes: data.count))
        return .accepted
    }

    private func end(expectedFrames: Int?) -> Verdict {
        guard var active = session else {
            return reject("no_session", "no session is running on this socket")
        }
        guard commit(&active) else {
            session = active
            return refuse("storage_failed", "cannot flush the session to disk", closeCode: 1011)
        }
        active.file.close()
        session = nil
        service.release(active.record.id, owner: ObjectIdentifier(self))
        let record = active.record
        send(.ended(.init(sessionID: record.id, frames: record.frames, bytes: record.bytes)))
        if let expectedFrames, expectedFrames != record.frames {
            send(
                .error(
                    SocketError(
                        code: "frame_count_mismatch",
                        message:
                            "the client counted \(expectedFrames) frames, the server stored \(record.frames) (\(active.invalid) were not JPEGs)"
                    )))
        }
        service.publish(.ended, record)
        logger.info("session \(record.id): ended, \(record.frames) frames, \(record.bytes) bytes")
        service.watch(record.id, outbox: outbox)
        service.finish(record)
        return .accepted
    }

    private func status(_ id: String) -> Verdict {
        guard Identifier.isValid(id, .record), let record = try? service.store.session(id: id) else {
            return reject("unknown_session", "no session '\(id.prefix(40))'")
        }
        send(.status(record.wire))
        if record.state == .processing {
            service.watch(id, outbox: outbox)
        }
        return .accepted
    }
}
