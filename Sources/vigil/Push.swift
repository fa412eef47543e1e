import ArgumentParser
import Synchronization
import VigilAPI
import VigilClient
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `vigil push URL FILE`: uploads an MJPEG file (or a folder of JPEGs) as an
/// ingest session with `IngestUploader` (which resumes by itself after a
/// dropped connection), printing the progress and the result.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload an MJPEG file or a folder of JPEGs as an ingest session.",
        discussion: "Example: vigil push http://127.0.0.1:8080 recording.mjpg --fps 30 --attach signal.csv")

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8080")
    var url: String

    @Option(help: "An API token (Authorization: Bearer); default: $VIGIL_TOKEN.")
    var token: String?

    /// The token from `--token` or the environment.
    var credential: String? { token ?? ProcessInfo.processInfo.environment["VIGIL_TOKEN"] }

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
        var files: [(name: String, data: Data)] = []
        for path in attachments {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CommandFailure("cannot read attachment \(path)")
            }
            files.append((Path.basename(path), data))
        }
        var uploader = IngestUploader(
            client: try VigilClient(url: url, token: credential), frames: frames, fps: fps, attachments: files,
            camera: camera)
        uploader.retryFor = .milliseconds(Int64(retryFor * 1000))
        let printer = PushProgress(total: frames.count)
        do {
            let totals = try await uploader.run { printer.show($0) }
            printer.finish()
            print("complete: session \(totals.sessionID) with \(totals.frames) frames")
        } catch let failure as UploadFailure {
            printer.finish()
            throw CommandFailure(failure.message)
        }
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

    func show(_ progress: UploadProgress) {
        switch progress {
        case .started(let id, let nextSeq, let resumed):
            StandardError.send(
                resumed ? "resumed session \(id) at frame \(nextSeq)\n" : "session \(id): sending \(total) frames\n")
        case .sent(let index, let bytes): sent(frame: bytes, index: index)
        case .acked(let frames): acked(frames)
        case .ended(let frames, let bytes):
            finish()
            StandardError.send("session ended: \(frames) frames, \(bytes) bytes stored\n")
        case .processing(let stage, let percent):
            StandardError.send("processing: \(stage) \(fixed(percent, 0))%\n")
        case .serverError(let error):
            StandardError.send("\nserver: \(error.code): \(error.message)\n")
        case .connectionLost(let reason, let wait, let ended):
            StandardError.send(
                "\nconnection lost (\(reason)); \(ended ? "asking for the result" : "resuming") in \(Int(wait.seconds * 1000)) ms\n"
            )
        }
    }

    func finish() {
        state.withLock { state in
            if state.printed { StandardError.send("\n") }
            state.printed = false
        }
    }
}
