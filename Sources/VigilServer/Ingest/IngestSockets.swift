import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `WS /api/v1/ingest`: upload sessions (the protocol is in the README).
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
    private var badMessages = 0

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

    private enum Next {
        case goOn
        case close
    }

    func read(_ inbound: WebSocketInboundStream) async -> LiveSockets.ReadEnd {
        var iterator = inbound.makeAsyncIterator()
        var message = ByteBuffer()
        var isText = true
        var oversize = false
        do {
            while let frame = try await iterator.next() {
                outbox.touch()
                if frame.opcode != .continuation {
                    message.clear()
                    isText = frame.opcode == .text
                    oversize = false
                }
                let limit = isText ? maxTextBytes : config.maxFrameBytes
                if !oversize {
                    if message.readableBytes + frame.data.readableBytes > limit {
                        oversize = true  // the rest of this message is read and dropped
                        message.clear()
                    } else {
                        var data = frame.data
                        message.writeBuffer(&data)
                    }
                }
                guard frame.fin else { continue }
                let next: Next
                if oversize {
                    next =
                        isText
                        ? reject("message_too_large", "text messages are limited to \(limit) bytes")
                        : reject(
                            "frame_too_large",
                            "a frame may be at most \(limit) bytes (ingest.max_frame_bytes); it was not stored")
                } else if isText {
                    next = handleText(message)
                } else {
                    next = handleFrame(message)
                }
                if case .close = next { return .closeRequested }
            }
        } catch {
            // A broken connection or a malformed frame; WSCore closes it.
        }
        return .clientGone
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
        service.publish("session_interrupted", active.record)
        logger.info(
            "session \(active.record.id): client disconnected after \(active.record.frames) frames (\(active.record.bytes) bytes, all stored); resumable for \(config.resumeWindow)"
        )
    }

    // MARK: - Messages

    private func send(_ object: [String: Any]) {
        outbox.send(text: LiveSockets.json(object))
    }

    private func reject(_ code: String, _ message: String) -> Next {
        badMessages += 1
        send(["type": "error", "code": code, "message": message])
        if badMessages >= 100 {
            outbox.close(code: 1008, reason: "too many bad messages (\(badMessages))")
            return .close
        }
        return .goOn
    }

    /// A limit that ends the socket.
    private func refuse(_ code: String, _ message: String, closeCode: UInt16) -> Next {
        send(["type": "error", "code": code, "message": message])
        outbox.close(code: closeCode, reason: String(message.prefix(120)))
        return .close
    }

    private func handleText(_ message: ByteBuffer) -> Next {
        guard
            let object = JSONText.parse(Data(message.readableBytesView)) as? [String: Any]
        else {
            return reject("bad_json", "text messages must be JSON objects with a \"type\"")
        }
        switch object["type"] as? String {
        case "session_start": return start(object)
        case "attachment": return attachment(object)
        case "session_end": return end(object)
        case "session_status": return status(object)
        case let type?:
            return reject(
                "unknown_type",
                "unknown message type '\(type.prefix(40))'; expected session_start, attachment, session_end or session_status"
            )
        case nil:
            return reject("missing_type", "messages need a string \"type\"")
        }
    }

    private func start(_ object: [String: Any]) -> Next {
        if let active = session {
            return reject(
                "session_already_started",
                "session \(active.record.id) is already running on this socket; send session_end first")
        }
        var metadata: String?
        if let value = object["metadata"], !(value is JSONNull) {
            guard let data = JSONText.data(value),
                data.count <= 64 * 1024
            else { return reject("bad_metadata", "metadata must be JSON of at most 65536 bytes") }
            metadata = String(decoding: data, as: UTF8.self)
        }
        var inbox: PushInbox?
        if let camera = object["camera"] as? String {
            guard ConfigLoader.isValidCameraID(camera), registry.camera(camera) != nil else {
                return reject("unknown_camera", "no camera named '\(camera.prefix(64))'")
            }
            guard let push = registry.inboxes[camera] else {
                return reject(
                    "not_push_camera", "camera '\(camera)' is not a push camera; frames cannot be shown on it")
            }
            inbox = push
        }
        let owner = ObjectIdentifier(self)
        if let requested = object["session_id"] as? String {
            return resume(requested, inbox: inbox, owner: owner)
        }
        let id = SessionRecord.newID()
        switch service.claim(id, owner: owner) {
        case .tooMany:
            return refuse(
                "too_many_sessions", "\(config.maxSessions) sessions are being received (ingest.max_sessions)",
                closeCode: 1013)
        case .busy, .claimed: break
        }
        var record = SessionRecord(id: id, camera: object["camera"] as? String, metadata: metadata)
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
        send(["type": "session_started", "session_id": id, "next_seq": 0])
        service.publish("session_started", record)
        logger.info("session \(id): started\(record.camera.map { " (shown on \($0))" } ?? "")")
        return .goOn
    }

    private func resume(_ id: String, inbox: PushInbox?, owner: ObjectIdentifier) -> Next {
        guard SessionRecord.isValidID(id), var record = try? service.store.session(id: id) else {
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
        send(["type": "session_started", "session_id": id, "next_seq": record.frames, "resumed": true])
        service.publish("session_resumed", record)
        logger.info("session \(id): resumed at frame \(record.frames)")
        return .goOn
    }

    private func handleFrame(_ message: ByteBuffer) -> Next {
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
            send(["type": "ack", "received": active.record.frames, "bytes": active.record.bytes])
        }
        session = active
        return .goOn
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

    private func attachment(_ object: [String: Any]) -> Next {
        guard var active = session else {
            return reject("no_session", "send session_start before attachments")
        }
        guard let name = object["name"] as? String, Self.isValidAttachmentName(name) else {
            return reject(
                "bad_attachment", "an attachment needs a \"name\" of 1-100 letters, digits, '.', '_' or '-'")
        }
        guard let text = object["data"] as? String else {
            return reject("bad_attachment", "attachment \(name) has no string \"data\"")
        }
        let data: Data
        switch object["encoding"] as? String ?? "utf8" {
        case "utf8": data = Data(text.utf8)
        case "base64":
            guard let decoded = Data(base64Encoded: text) else {
                return reject("bad_attachment", "attachment \(name): data is not valid base64")
            }
            data = decoded
        default:
            return reject("bad_attachment", "attachment \(name): encoding must be \"utf8\" or \"base64\"")
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
        send(["type": "attachment_saved", "name": name, "bytes": data.count])
        return .goOn
    }

    static func isValidAttachmentName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 100, !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
                || c == 0x2D || c == 0x2E
        }
    }

    private func end(_ object: [String: Any]) -> Next {
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
        send(["type": "session_ended", "session_id": record.id, "frames": record.frames, "bytes": record.bytes])
        if let expected = object["frames"] as? Int, expected != record.frames {
            send([
                "type": "error", "code": "frame_count_mismatch",
                "message":
                    "the client counted \(expected) frames, the server stored \(record.frames) (\(active.invalid) were not JPEGs)",
            ])
        }
        service.publish("session_ended", record)
        logger.info("session \(record.id): ended, \(record.frames) frames, \(record.bytes) bytes")
        service.watch(record.id, outbox: outbox)
        service.finish(record)
        return .goOn
    }

    private func status(_ object: [String: Any]) -> Next {
        guard let id = object["session_id"] as? String, SessionRecord.isValidID(id),
            let record = try? service.store.session(id: id)
        else {
            return reject("unknown_session", "no session '\((object["session_id"] as? String ?? "").prefix(40))'")
        }
        var reply = record.json
        reply["type"] = "session_status"
        send(reply)
        if record.state == .processing {
            service.watch(id, outbox: outbox)
        }
        return .goOn
    }
}
