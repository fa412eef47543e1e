import Logging
import NIOCore
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Where an upload's frames are shown while they arrive.
public enum PushTarget: Sendable {
    case unknownCamera
    /// The camera exists but reads from its own source.
    case notPushCamera
    /// A push camera: `deliver` publishes a frame on it.
    case camera(deliver: @Sendable (ParsedJPEG) -> Void)
}

/// What a message did to the conversation.
public enum IngestVerdict: Sendable {
    case accepted
    /// Answered with the error; the connection goes on.
    case rejected(SocketError)
    /// Answered with the error; the connection ends, for `reason`.
    case fatal(SocketError, reason: FatalReason)

    public enum FatalReason: Sendable {
        /// A server-wide limit: come back later.
        case tryLater
        /// The session reached its size limit.
        case tooLarge
        /// The disk refused a write.
        case storageFailed
    }
}

/// One connection's side of the upload protocol (`docs/api.md`, "Upload
/// sessions"): session start and resume, frames appended and acknowledged
/// once durable, attachments, the end and its processing, status queries.
/// Every message gets an answer that says what happened.
///
/// Used by the connection's reader task, then (after that task ended) by
/// `disconnected()`: never by two tasks at once.
public final class IngestProtocol: @unchecked Sendable {
    private let service: IngestSessions
    private let pushTarget: @Sendable (String) -> PushTarget
    private let replies: any SessionWatcher
    private let logger: Logger
    private var config: IngestConfig { service.config }

    private struct Active {
        var record: SessionRecord
        var file: SessionFile
        var show: (@Sendable (ParsedJPEG) -> Void)?
        var unacked = 0
        var invalid = 0
    }

    private var session: Active?

    /// `pushTarget` finds the camera a session asks to be shown on;
    /// `replies` gets every answer.
    public init(
        sessions: IngestSessions, pushTarget: @escaping @Sendable (String) -> PushTarget,
        replies: any SessionWatcher, logger: Logger
    ) {
        self.service = sessions
        self.pushTarget = pushTarget
        self.replies = replies
        self.logger = logger
    }

    /// Largest text message: an attachment in base64 plus its JSON.
    public var maxTextBytes: Int { config.maxAttachmentBytes / 3 * 4 + 64 * 1024 }

    /// Largest frame.
    public var maxFrameBytes: Int { config.maxFrameBytes }

    /// The connection is gone: what was received is made durable and the
    /// session stays resumable.
    public func disconnected() async {
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
        await service.save(active.record)
        service.release(active.record.id, owner: ObjectIdentifier(self))
        service.publish(.interrupted, active.record)
        logger.info(
            "session \(active.record.id): client disconnected after \(active.record.frames) frames (\(active.record.bytes) bytes, all stored); resumable for \(config.resumeWindow)"
        )
    }

    // MARK: - Messages

    private func send(_ reply: IngestReply) {
        replies.tell(reply)
    }

    private func reject(_ code: String, _ message: String) -> IngestVerdict {
        .rejected(SocketError(code: code, message: message))
    }

    /// A limit that ends the connection.
    private func refuse(_ code: String, _ message: String, _ reason: IngestVerdict.FatalReason) -> IngestVerdict {
        .fatal(SocketError(code: code, message: message), reason: reason)
    }

    /// A text message from the client.
    public func handle(_ request: IngestRequest) async -> IngestVerdict {
        switch request {
        case .start(let start): return await self.start(start)
        case .attachment(let attachment): return await self.attachment(attachment)
        case .end(let frames): return await end(expectedFrames: frames)
        case .status(let id): return await status(id)
        }
    }

    private func start(_ request: IngestRequest.Start) async -> IngestVerdict {
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
        var show: (@Sendable (ParsedJPEG) -> Void)?
        if let camera = request.camera {
            let target = Identifier.isValid(camera, .camera) ? pushTarget(camera) : .unknownCamera
            switch target {
            case .unknownCamera:
                return reject("unknown_camera", "no camera named '\(camera.prefix(64))'")
            case .notPushCamera:
                return reject(
                    "not_push_camera", "camera '\(camera)' is not a push camera; frames cannot be shown on it")
            case .camera(let deliver):
                show = deliver
            }
        }
        let owner = ObjectIdentifier(self)
        if let requested = request.sessionID {
            return await resume(requested, show: show, owner: owner)
        }
        let id = Identifier.newRecordID(prefix: "s")
        switch service.claim(id, owner: owner) {
        case .tooMany:
            return refuse(
                "too_many_sessions", "\(config.maxSessions) sessions are being received (ingest.max_sessions)",
                .tryLater)
        case .busy, .claimed: break
        }
        var record = SessionRecord(id: id, camera: request.camera, metadata: metadata)
        do {
            let dir = service.directory(of: id)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let file = try SessionFile(path: Path.join(dir, "frames.mjpg"), keep: 0)
            try await service.store.saveSession(record)
            session = Active(record: record, file: file, show: show)
        } catch {
            service.release(id, owner: owner)
            return refuse("storage_failed", "cannot store the session: \(error)", .storageFailed)
        }
        record.state = .receiving
        send(.started(.init(sessionID: id, nextSeq: 0)))
        service.publish(.started, record)
        logger.info("session \(id): started\(record.camera.map { " (shown on \($0))" } ?? "")")
        return .accepted
    }

    private func resume(
        _ id: String, show requestedShow: (@Sendable (ParsedJPEG) -> Void)?, owner: ObjectIdentifier
    ) async -> IngestVerdict {
        guard Identifier.isValid(id, .record), var record = try? await service.store.session(id: id) else {
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
                .tryLater)
        case .busy:
            return reject("session_busy", "session \(id) is still attached to another connection; retry shortly")
        case .claimed: break
        }
        do {
            let file = try SessionFile(
                path: Path.join(service.directory(of: id), "frames.mjpg"), keep: record.bytes)
            record.state = .receiving
            record.updatedAt = Date().timeIntervalSince1970
            try await service.store.saveSession(record)
            var show = requestedShow
            if show == nil, let camera = record.camera, case .camera(let deliver) = pushTarget(camera) {
                show = deliver
            }
            session = Active(record: record, file: file, show: show)
        } catch {
            service.release(id, owner: owner)
            return refuse("storage_failed", "cannot reopen session \(id): \(error)", .storageFailed)
        }
        send(.started(.init(sessionID: id, nextSeq: record.frames, resumed: true)))
        service.publish(.resumed, record)
        logger.info("session \(id): resumed at frame \(record.frames)")
        return .accepted
    }

    /// A binary message: one JPEG frame of the running session.
    public func handleFrame(_ message: ByteBuffer) async -> IngestVerdict {
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
            _ = await commit(&active)
            session = active
            return refuse(
                "session_too_large",
                "the session reached \(config.maxSessionBytes) bytes (ingest.max_session_bytes); end it or start another",
                .tooLarge)
        }
        do {
            try active.file.append(message)
        } catch {
            session = active
            return refuse("storage_failed", "cannot store the frame: \(error)", .storageFailed)
        }
        active.record.frames += 1
        active.unacked += 1
        active.show?(jpeg)
        if active.unacked >= config.ackEvery {
            guard await commit(&active) else {
                session = active
                return refuse("storage_failed", "cannot flush the session to disk", .storageFailed)
            }
            send(.ack(received: active.record.frames, bytes: active.record.bytes))
        }
        session = active
        return .accepted
    }

    /// fsync, then the row: what the next ack says is on disk.
    private func commit(_ active: inout Active) async -> Bool {
        do {
            try active.file.sync()
            active.record.bytes = active.file.bytes
            active.record.updatedAt = Date().timeIntervalSince1970
            try await service.store.saveSession(active.record)
            active.unacked = 0
            return true
        } catch {
            logger.error("session \(active.record.id): \(error)")
            return false
        }
    }

    private func attachment(_ request: IngestRequest.Attachment) async -> IngestVerdict {
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
            try await service.store.saveSession(active.record)
        } catch {
            return reject("storage_failed", "cannot store attachment \(name): \(error)")
        }
        session = active
        send(.attachmentSaved(name: name, bytes: data.count))
        return .accepted
    }

    private func end(expectedFrames: Int?) async -> IngestVerdict {
        guard var active = session else {
            return reject("no_session", "no session is running on this socket")
        }
        guard await commit(&active) else {
            session = active
            return refuse("storage_failed", "cannot flush the session to disk", .storageFailed)
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
        service.watch(record.id, watcher: replies)
        await service.finish(record)
        return .accepted
    }

    private func status(_ id: String) async -> IngestVerdict {
        guard Identifier.isValid(id, .record), let record = try? await service.store.session(id: id) else {
            return reject("unknown_session", "no session '\(id.prefix(40))'")
        }
        send(.status(record.wire))
        if record.state == .processing {
            service.watch(id, watcher: replies)
        }
        return .accepted
    }
}
