import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The frames of an upload, read on demand so memory stays bounded whatever
/// their number: a resumed session asks again from the first frame the
/// server does not have.
public protocol UploadFrames: Sendable {
    /// How many frames there are.
    var count: Int { get }
    /// A name for the session's metadata (e.g. the file's name).
    var name: String { get }
    /// Calls `body` with each frame from index `skip` on, until it returns false.
    func frames(from skip: Int, _ body: (ByteBuffer) async throws -> Bool) async throws
}

/// What happens during an upload, for a progress display.
public enum UploadProgress: Sendable {
    /// The session runs; frames from `nextSeq` on are sent.
    case started(sessionID: String, nextSeq: Int, resumed: Bool)
    case sent(index: Int, bytes: Int)
    case acked(frames: Int)
    /// Every frame is stored; processing (if any) begins.
    case ended(frames: Int, bytes: Int64)
    case processing(stage: String, percent: Double)
    /// The server answered a message with an error the upload goes on after.
    case serverError(SocketError)
    /// The connection dropped; the next attempt starts after `retryIn`.
    case connectionLost(reason: String, retryIn: Duration, ended: Bool)
}

/// Uploads frames (and attachments) as one ingest session over
/// `WS /api/v1/ingest`, and follows its processing to the end.
///
/// A dropped connection is resumed: a brand-new socket asks for the same
/// session and sends from the server's `next_seq`, with capped jittered
/// backoff, until `retryFor` passes without progress. Only frames the
/// server acknowledged are known to be stored; the rest are sent again.
public struct IngestUploader: Sendable {
    public var client: VigilClient
    public var frames: any UploadFrames
    /// Frames per second to send at; nil sends as fast as the server takes them.
    public var fps: Double?
    /// Files to attach: name and contents.
    public var attachments: [(name: String, data: Data)]
    /// A push camera that shows the frames while they arrive.
    public var camera: String?
    /// How long to keep trying without progress after a dropped connection.
    public var retryFor: Duration = .seconds(600)
    public var backoff = Backoff(initial: .milliseconds(250), max: .seconds(5))

    public init(
        client: VigilClient, frames: any UploadFrames, fps: Double? = nil,
        attachments: [(name: String, data: Data)] = [], camera: String? = nil
    ) {
        self.client = client
        self.frames = frames
        self.fps = fps
        self.attachments = attachments
        self.camera = camera
    }

    /// Uploads and waits for processing; answers the stored totals, or
    /// throws `UploadFailure` with the server's reason.
    public func run(progress: @escaping @Sendable (UploadProgress) -> Void = { _ in }) async throws
        -> IngestReply.SessionTotals
    {
        var sessionID: String?
        var ended = false
        var backoff = self.backoff
        var lastProgress = ContinuousClock.now
        while true {
            let attempt = UploadAttempt(uploader: self, sessionID: sessionID, ended: ended, progress: progress)
            let outcome = await attempt.run()
            sessionID = attempt.sessionID ?? sessionID
            ended = ended || attempt.ended
            switch outcome {
            case .complete(let totals):
                return totals
            case .failed(let reason):
                throw UploadFailure(message: reason)
            case .dropped(let reason):
                if attempt.madeProgress {
                    lastProgress = ContinuousClock.now
                    backoff.reset()
                }
                guard ContinuousClock.now - lastProgress < retryFor else {
                    throw UploadFailure(message: "gave up after \(retryFor) without reaching the server: \(reason)")
                }
                let wait = backoff.next()
                progress(.connectionLost(reason: reason, retryIn: wait, ended: ended))
                try await Task.sleep(for: wait)
            }
        }
    }
}

/// Why an upload ended without a complete session.
public struct UploadFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// One connection of an upload.
final class UploadAttempt: Sendable {
    enum Outcome {
        case complete(IngestReply.SessionTotals)
        case failed(String)
        case dropped(String)
    }

    private struct Progress {
        var sessionID: String?
        var ended: Bool
        var progressed = false
    }

    private let uploader: IngestUploader
    private let resumeID: String?
    private let alreadyEnded: Bool
    private let report: @Sendable (UploadProgress) -> Void
    private let state: Mutex<Progress>

    var sessionID: String? { state.withLock { $0.sessionID } }
    var ended: Bool { state.withLock { $0.ended } }
    var madeProgress: Bool { state.withLock { $0.progressed } }

    init(
        uploader: IngestUploader, sessionID: String?, ended: Bool,
        progress: @escaping @Sendable (UploadProgress) -> Void
    ) {
        self.uploader = uploader
        self.resumeID = sessionID
        self.alreadyEnded = ended
        self.report = progress
        self.state = Mutex(Progress(sessionID: sessionID, ended: ended))
    }

    func run() async -> Outcome {
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        configuration.autoPing = .enabled(timePeriod: .seconds(10))
        configuration.closeTimeout = .seconds(2)
        if let token = uploader.client.token { configuration.additionalHeaders[.authorization] = "Bearer \(token)" }
        var logger = Logger(label: "vigil.upload")
        logger.logLevel = .critical
        let result = Mutex<Outcome?>(nil)
        do {
            let close = try await WebSocketClient.connect(
                url: uploader.client.url(APIPath.ingestSocket, webSocket: true), configuration: configuration,
                logger: logger
            ) { inbound, outbound, _ in
                let outcome = try await self.converse(inbound: inbound, outbound: outbound)
                result.withLock { $0 = outcome }
                try await outbound.close(.normalClosure, reason: nil)
            }
            if let outcome = result.withLock({ $0 }) { return outcome }
            let reason = close.map { "closed by the server: \($0.closeCode)\($0.reason.map { ", \($0)" } ?? "")" }
            return .dropped(reason ?? "connection closed")
        } catch {
            if let outcome = result.withLock({ $0 }) { return outcome }
            return .dropped("\(error)")
        }
    }

    private func converse(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws -> Outcome {
        // One task reads everything the server sends; the dialogue consumes it.
        let (replies, continuation) = AsyncStream<IngestReply>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        return try await withThrowingTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message,
                        let reply = try? WireJSON.decode(IngestReply.self, from: text)
                    else { continue }
                    continuation.yield(reply)
                }
                return nil
            }
            group.addTask { try await self.dialogue(outbound: outbound, replies: replies) }
            while let outcome = try await group.next() {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return .dropped("connection closed")
        }
    }

    private func send(_ request: IngestRequest, on outbound: WebSocketOutboundWriter) async throws {
        try await outbound.write(.text(WireJSON.text(request)))
    }

    private func dialogue(outbound: WebSocketOutboundWriter, replies: AsyncStream<IngestReply>) async throws
        -> Outcome
    {
        var iterator = replies.makeAsyncIterator()
        let report = self.report
        /// The next reply that is not bookkeeping (acks, saved attachments,
        /// errors the upload goes on after).
        func next() async -> IngestReply? {
            while let reply = await iterator.next() {
                switch reply {
                case .ack(let received, _): report(.acked(frames: received))
                case .attachmentSaved: continue
                case .error(let error) where error.code != "processing_failed":
                    report(.serverError(error))
                    if ["unknown_session", "session_closed", "too_many_sessions"].contains(error.code) {
                        return reply
                    }
                default: return reply
                }
            }
            return nil
        }
        let frames = uploader.frames
        if alreadyEnded, let id = resumeID {
            try await send(.status(sessionID: id), on: outbound)
            return await followProcessing(next)
        }
        try await send(
            .start(
                .init(
                    sessionID: resumeID, camera: uploader.camera,
                    metadata: ["source": .string(frames.name), "frames": .int(frames.count)])), on: outbound)
        guard let answer = await next() else { return .dropped("no answer to session_start") }
        guard case .started(let started) = answer else {
            if case .error(let error) = answer { return .failed("the server refused the session: \(error.message)") }
            return .failed("unexpected answer to session_start: \(answer)")
        }
        state.withLock {
            $0.sessionID = started.sessionID
            $0.progressed = true
        }
        report(.started(sessionID: started.sessionID, nextSeq: started.nextSeq, resumed: started.resumed == true))
        for attachment in uploader.attachments {
            try await send(
                .attachment(
                    .init(name: attachment.name, data: attachment.data.base64EncodedString(), encoding: .base64)),
                on: outbound)
        }
        let interval = uploader.fps.map { Duration.nanoseconds(Int64(1e9 / $0)) }
        var due = ContinuousClock.now
        var index = started.nextSeq
        try await frames.frames(from: started.nextSeq) { frame in
            if let interval {
                due += interval
                if due > ContinuousClock.now { try await Task.sleep(until: due) }
            }
            try await outbound.write(.binary(frame))
            report(.sent(index: index, bytes: frame.readableBytes))
            index += 1
            return true
        }
        try await send(.end(frames: frames.count), on: outbound)
        guard let endAnswer = await next() else { return .dropped("no answer to session_end") }
        guard case .ended(let totals) = endAnswer else {
            return .failed("unexpected answer to session_end: \(endAnswer)")
        }
        state.withLock { $0.ended = true }
        report(.ended(frames: totals.frames, bytes: totals.bytes))
        return await followProcessing(next)
    }

    private func followProcessing(_ next: () async -> IngestReply?) async -> Outcome {
        while let reply = await next() {
            switch reply {
            case .progress(_, let stage, let percent):
                report(.processing(stage: stage, percent: percent))
            case .complete(let totals):
                return .complete(totals)
            case .error(let error) where error.code == "processing_failed":
                return .failed("processing failed: \(error.message)")
            case .status(let session):
                switch session.state {
                case .complete:
                    return .complete(.init(sessionID: session.sessionID, frames: session.frames, bytes: session.bytes))
                case .failed: return .failed("processing failed: \(session.error ?? "")")
                case .processing: continue
                default: return .failed("session is \(session.state.rawValue)")
                }
            case .error(let error):
                return .failed("\(error.code): \(error.message)")
            default: continue
            }
        }
        return .dropped("connection closed while waiting for the result")
    }
}
