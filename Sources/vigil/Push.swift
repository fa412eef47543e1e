import ArgumentParser
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `vigil push URL FILE`: uploads an MJPEG file (or a folder of JPEGs) as an
/// ingest session, resumes by itself after a dropped connection, and prints
/// the processing progress and the result.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload an MJPEG file or a folder of JPEGs as an ingest session.",
        discussion: "Example: vigil push http://127.0.0.1:8080 recording.mjpg --fps 30 --attach signal.csv")

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8080")
    var url: String

    @Argument(help: "An MJPEG file (concatenated JPEGs) or a folder of .jpg files (sent in name order).")
    var file: String

    @Option(help: "Frames per second to send at (default: as fast as the server takes them).")
    var fps: Double?

    @Option(name: .customLong("attach"), help: "A file to attach to the session (repeatable).")
    var attachments: [String] = []

    @Option(help: "Show the frames live on this push camera while uploading.")
    var camera: String?

    @Option(help: "Seconds to keep trying to reach the server after a dropped connection.")
    var retryFor: Double = 600

    func validate() throws {
        if let fps, !(fps > 0 && fps <= 10_000) { throw ValidationError("--fps must be in (0, 10000]") }
        for path in attachments where !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read attachment \(path)")
        }
    }

    func run() async throws {
        let frames = try FrameFile(path: file)
        let wsURL = Self.webSocketURL(url) + "/api/v1/ingest"
        let progress = PushProgress(total: frames.count)
        var sessionID: String?
        var ended = false
        var delay = Duration.milliseconds(250)
        var lastSuccess = ContinuousClock.now
        while true {
            let attempt = PushAttempt(
                url: wsURL, frames: frames, fps: fps, attachments: attachments, camera: camera,
                sessionID: sessionID, ended: ended, progress: progress)
            let outcome = await attempt.run()
            sessionID = attempt.sessionID ?? sessionID
            ended = ended || attempt.ended
            switch outcome {
            case .finished(let message):
                progress.finish()
                print(message)
                return
            case .failed(let message):
                progress.finish()
                throw Failed(message)
            case .dropped(let why):
                if attempt.madeProgress {
                    lastSuccess = ContinuousClock.now
                    delay = .milliseconds(250)
                }
                guard ContinuousClock.now - lastSuccess < .seconds(retryFor) else {
                    throw Failed("gave up after \(Int(retryFor)) s without reaching the server: \(why)")
                }
                let wait = Duration.milliseconds(Int64.random(in: 0...Int64(delay.seconds * 1000)))
                StandardError.send(
                    "\nconnection lost (\(why)); \(ended ? "asking for the result" : "resuming") in \(Int(wait.seconds * 1000)) ms\n"
                )
                try await Task.sleep(for: wait)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    static func webSocketURL(_ url: String) -> String {
        var base = url.hasSuffix("/") ? String(url.dropLast()) : url
        if base.hasPrefix("http://") { base = "ws://" + base.dropFirst(7) }
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst(8) }
        return base
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

/// The frames to send, read one at a time (memory stays bounded whatever
/// the file's size): an MJPEG file is re-parsed from the start when a
/// resumed session skips frames, which costs little next to the network.
struct FrameFile: Sendable {
    let path: String
    let files: [String]?
    let count: Int

    init(path: String) throws {
        self.path = path
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Push.Failed("no such file: \(path)")
        }
        if isDirectory {
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.lowercased().hasSuffix(".jpg") || $0.lowercased().hasSuffix(".jpeg") }.sorted()
            files = names.map { Path.join(path, $0) }
            count = names.count
        } else {
            files = nil
            var reader = try MJPEGFileReader(path: path)
            var n = 0
            while let batch = try reader.nextBatch() { n += batch.count }
            count = n
        }
        guard count > 0 else { throw Push.Failed("\(path) holds no JPEG frames") }
    }

    /// Calls `body` with each frame from index `skip` on, until it returns false.
    func frames(from skip: Int, _ body: (ByteBuffer) async throws -> Bool) async throws {
        if let files {
            for file in files.dropFirst(skip) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw Push.Failed("cannot read \(file)")
                }
                if try await !body(ByteBuffer(bytes: data)) { return }
            }
            return
        }
        var reader = try MJPEGFileReader(path: path)
        var index = 0
        while let batch = try reader.nextBatch() {
            for frame in batch {
                defer { index += 1 }
                if index >= skip, try await !body(frame) { return }
            }
        }
    }
}

/// The frames of an MJPEG file (concatenated JPEGs), a 1 MiB read at a time:
/// memory stays bounded whatever the file's size.
struct MJPEGFileReader {
    private let fd: Int32
    private var parser = JPEGFrameParser(maxFrameBytes: 64 << 20)

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Push.Failed("cannot read \(path)") }
        self.fd = fd
    }

    /// The frames completed by the next read; nil at the end of the file.
    mutating func nextBatch() throws -> [ByteBuffer]? {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else {
            close(fd)
            if count < 0 { throw Push.Failed("read failed: \(String(cString: strerror(errno)))") }
            return nil
        }
        chunk.removeSubrange(count...)
        var frames: [ByteBuffer] = []
        chunk.withUnsafeBytes { bytes in parser.feed(bytes) { frames.append($0.buffer) } }
        return frames
    }
}

/// Progress on stderr, at most once a second.
final class PushProgress: Sendable {
    private struct State {
        var sent = 0
        var acked = 0
        var bytes = 0
        var lastPrint = ContinuousClock.now
        var windowStart = ContinuousClock.now
        var windowFrames = 0
        var windowBytes = 0
        var printed = false
    }

    let total: Int
    private let state = Mutex(State())

    init(total: Int) {
        self.total = total
    }

    func sent(frame bytes: Int, index: Int) {
        state.withLock { state in
            state.sent = index + 1
            state.bytes += bytes
            state.windowFrames += 1
            state.windowBytes += bytes
            let now = ContinuousClock.now
            guard now - state.lastPrint >= .seconds(1) else { return }
            let seconds = (now - state.windowStart).seconds
            let fps = fixed(Double(state.windowFrames) / seconds, 1)
            let rate = fixed(Double(state.windowBytes) / seconds / 1e6, 1)
            let line = "\rsent \(state.sent)/\(total) frames, acked \(state.acked), \(fps) fps, \(rate) MB/s   "
            StandardError.send(line)
            state.printed = true
            state.lastPrint = now
            state.windowStart = now
            state.windowFrames = 0
            state.windowBytes = 0
        }
    }

    func acked(_ frames: Int) {
        state.withLock { $0.acked = frames }
    }

    func finish() {
        state.withLock { state in
            if state.printed { StandardError.send("\n") }
            state.printed = false
        }
    }
}

/// One connection of `vigil push`.
final class PushAttempt: @unchecked Sendable {
    enum Outcome {
        case finished(String)
        case failed(String)
        case dropped(String)
    }

    let url: String
    let frames: FrameFile
    let fps: Double?
    let attachments: [String]
    let camera: String?
    let progress: PushProgress
    private let box = Mutex<(id: String?, ended: Bool, progressed: Bool)>((nil, false, false))

    var sessionID: String? { box.withLock { $0.id } }
    var ended: Bool { box.withLock { $0.ended } }
    var madeProgress: Bool { box.withLock { $0.progressed } }
    private let resumeID: String?
    private let alreadyEnded: Bool

    init(
        url: String, frames: FrameFile, fps: Double?, attachments: [String], camera: String?, sessionID: String?,
        ended: Bool, progress: PushProgress
    ) {
        self.url = url
        self.frames = frames
        self.fps = fps
        self.attachments = attachments
        self.camera = camera
        self.resumeID = sessionID
        self.alreadyEnded = ended
        self.progress = progress
        box.withLock { $0 = (sessionID, ended, false) }
    }

    func run() async -> Outcome {
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        configuration.autoPing = .enabled(timePeriod: .seconds(10))
        configuration.closeTimeout = .seconds(2)
        var logger = Logger(label: "vigil.push")
        logger.logLevel = .critical
        let result = Mutex<Outcome?>(nil)
        do {
            let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) {
                inbound, outbound, _ in
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

    private func json(_ object: [String: Any]) -> String {
        JSONText.string(object) ?? ""
    }

    private func converse(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws -> Outcome {
        // One task reads everything the server sends; the dialogue consumes it.
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        return try await withThrowingTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { continuation.yield(text) }
                }
                return nil
            }
            group.addTask { try await self.dialogue(outbound: outbound, stream: stream) }
            while let outcome = try await group.next() {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return .dropped("connection closed")
        }
    }

    private func dialogue(outbound: WebSocketOutboundWriter, stream: AsyncStream<String>) async throws -> Outcome {
        var iterator = stream.makeAsyncIterator()
        let progress = self.progress
        func next() async -> [String: Any]? {
            while let text = await iterator.next() {
                guard let object = JSONText.parse(text) as? [String: Any] else {
                    continue
                }
                switch object["type"] as? String {
                case "ack": progress.acked(object["received"] as? Int ?? 0)
                case "attachment_saved": continue
                case "error" where object["code"] as? String != "processing_failed":
                    let code = object["code"] as? String ?? ""
                    let message = object["message"] as? String ?? ""
                    StandardError.send("\nserver: \(code): \(message)\n")
                    if code == "unknown_session" || code == "session_closed" || code == "too_many_sessions" {
                        return object
                    }
                default: return object
                }
            }
            return nil
        }
        if alreadyEnded, let id = resumeID {
            try await outbound.write(.text(json(["type": "session_status", "session_id": id])))
            return try await followProcessing(next)
        }
        var start: [String: Any] = ["type": "session_start"]
        if let resumeID { start["session_id"] = resumeID }
        if let camera { start["camera"] = camera }
        start["metadata"] = ["source": Path.basename(frames.path), "frames": frames.count]
        try await outbound.write(.text(json(start)))
        guard let started = await next() else { return .dropped("no answer to session_start") }
        guard started["type"] as? String == "session_started", let id = started["session_id"] as? String else {
            return .failed("the server refused the session: \(started["message"] as? String ?? "\(started)")")
        }
        let nextSeq = started["next_seq"] as? Int ?? 0
        box.withLock {
            $0.id = id
            $0.progressed = true
        }
        if resumeID != nil {
            StandardError.send("resumed session \(id) at frame \(nextSeq)\n")
        } else {
            StandardError.send("session \(id): sending \(frames.count) frames\n")
        }
        for path in attachments {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try await outbound.write(
                .text(
                    json([
                        "type": "attachment", "name": Path.basename(path), "encoding": "base64",
                        "data": data.base64EncodedString(),
                    ])))
        }
        let interval = fps.map { Duration.nanoseconds(Int64(1e9 / $0)) }
        var due = ContinuousClock.now
        var index = nextSeq
        try await frames.frames(from: nextSeq) { frame in
            if let interval {
                due += interval
                if due > ContinuousClock.now { try await Task.sleep(until: due) }
            }
            try await outbound.write(.binary(frame))
            progress.sent(frame: frame.readableBytes, index: index)
            index += 1
            return true
        }
        try await outbound.write(.text(json(["type": "session_end", "frames": frames.count])))
        guard let endedMessage = await next() else { return .dropped("no answer to session_end") }
        guard endedMessage["type"] as? String == "session_ended" else {
            return .failed("unexpected answer to session_end: \(endedMessage)")
        }
        box.withLock { $0.ended = true }
        progress.finish()
        StandardError.send(
            "session \(id) ended: \(endedMessage["frames"] ?? 0) frames, \(endedMessage["bytes"] ?? 0) bytes stored\n")
        return try await followProcessing(next)
    }

    private func followProcessing(_ next: () async -> [String: Any]?) async throws -> Outcome {
        while let message = await next() {
            switch message["type"] as? String {
            case "progress":
                StandardError.send("processing: \(message["stage"] as? String ?? "?") \(message["percent"] ?? 0)%\n")
            case "complete":
                return .finished(
                    "complete: session \(message["session_id"] ?? "") with \(message["frames"] ?? 0) frames")
            case "error" where message["code"] as? String == "processing_failed":
                return .failed("processing failed: \(message["message"] as? String ?? "")")
            case "session_status":
                switch message["state"] as? String {
                case "complete":
                    return .finished(
                        "complete: session \(message["session_id"] ?? "") with \(message["frames"] ?? 0) frames")
                case "failed": return .failed("processing failed: \(message["error"] as? String ?? "")")
                case "processing": continue
                default: return .failed("session is \(message["state"] ?? "?")")
                }
            case "error":
                return .failed("\(message["code"] ?? ""): \(message["message"] ?? "")")
            default: continue
            }
        }
        return .dropped("connection closed while waiting for the result")
    }
}
