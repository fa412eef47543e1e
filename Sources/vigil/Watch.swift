import ArgumentParser
import Dispatch
import NIOCore
import Synchronization
import SystemPackage
import VigilAPI
import VigilClient
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `vigil watch URL CAMERA`: a consumer that never works from a stale frame.
///
/// It follows the camera with `LiveView` (reconnecting forever, leaving
/// zombie connections) and, when asked, saves the newest frame only if it is
/// younger than `--max-frame-age`; otherwise it says why it did not.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a camera's live view; save fresh frames on motion, on a timer, or when asked on stdin.",
        discussion: """
            Each save prints one line on stdout: `saved PATH (age 40 ms, 51234 bytes)` or
            `not saved: REASON` (no frame younger than --max-frame-age: the camera is stale,
            capturing, or the server is unreachable). A status line goes to stderr every
            --status-every. Runs until interrupted.

            Example: detector | vigil watch http://127.0.0.1:8080 porch --save-dir shots --save-on stdin
            """)

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8080")
    var url: String

    @Argument(help: "The camera id.")
    var camera: String

    @Option(help: "An API token (Authorization: Bearer); default: $VIGIL_TOKEN.")
    var token: String?

    @Option(help: "Where saved frames go (created if missing).")
    var saveDir: String?

    @Option(
        help: ArgumentHelp(
            "When to save: motion (each motion event of the camera), every:DURATION (e.g. every:5s), or stdin (each line read).",
            valueName: "trigger"))
    var saveOn: SaveTrigger?

    @Option(help: "A frame older than this is never saved (e.g. 2s, 500ms).")
    var maxFrameAge: String = "2s"

    @Option(help: "A connection silent this long is left for a new one.")
    var silence: String = "10s"

    @Option(help: "How often the status line is printed (0 for never).")
    var statusEvery: String = "5s"

    /// What makes `vigil watch` save a frame.
    enum SaveTrigger: ExpressibleByArgument, Equatable {
        case motion
        case every(Duration)
        case stdin

        init?(argument: String) {
            switch argument {
            case "motion": self = .motion
            case "stdin": self = .stdin
            default:
                guard argument.hasPrefix("every:"), let period = DurationParser.parse(String(argument.dropFirst(6))),
                    period > .zero
                else { return nil }
                self = .every(period)
            }
        }
    }

    func validate() throws {
        guard Identifier.isValid(camera, .camera) else {
            throw ValidationError("'\(camera)' is not a camera id (1-64 letters, digits, '_' or '-')")
        }
        guard (saveOn == nil) == (saveDir == nil) else {
            throw ValidationError("--save-dir and --save-on go together")
        }
        for (name, value) in [
            ("--max-frame-age", maxFrameAge), ("--silence", silence), ("--status-every", statusEvery),
        ]
        where DurationParser.parse(value) == nil {
            throw ValidationError("\(name): '\(value)' is not a duration (e.g. 2s, 500ms)")
        }
    }

    func run() async throws {
        let client = try VigilClient(url: url, token: token ?? ProcessInfo.processInfo.environment["VIGIL_TOKEN"])
        if let saveDir {
            do {
                try FileManager.default.createDirectory(atPath: saveDir, withIntermediateDirectories: true)
            } catch {
                throw CommandFailure("cannot create \(saveDir): \(error)")
            }
        }
        let watcher = Watcher(camera: camera, maxFrameAge: DurationParser.parse(maxFrameAge)!, saveDir: saveDir)
        let silenceLimit = DurationParser.parse(silence)!
        let view = {
            var view = LiveView(client: client, camera: camera)
            view.silenceLimit = silenceLimit
            return view
        }()
        let statusPeriod = DurationParser.parse(statusEvery)!
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in view { watcher.observe(event) }
            }
            if statusPeriod > .zero {
                group.addTask {
                    while (try? await Task.sleep(for: statusPeriod)) != nil {
                        StandardError.send(watcher.statusLine(over: statusPeriod) + "\n")
                    }
                }
            }
            switch saveOn {
            case .motion?:
                let mirror = StateMirror(client: client, silenceLimit: silenceLimit)
                let changes = mirror.changes()
                group.addTask { await mirror.run() }
                group.addTask {
                    for await change in changes {
                        if case .event(.motion(let motion)) = change, motion.camera == camera, motion.kind == .started {
                            say(watcher.save(because: "motion event \(motion.record.id)"))
                        }
                    }
                }
            case .every(let period)?:
                group.addTask {
                    while (try? await Task.sleep(for: period)) != nil { say(watcher.save(because: "timer")) }
                }
            case .stdin?:
                group.addTask {
                    for await _ in Self.standardInputLines() { say(watcher.save(because: "asked on stdin")) }
                }
            case nil:
                break
            }
            await group.waitForAll()
        }
    }

    /// Lines of standard input, read by a blocking loop on a queue of its
    /// own; ends at EOF (watching goes on: only a signal ends `vigil watch`).
    static func standardInputLines() -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(64))
        DispatchQueue(label: "vigil.watch.stdin").async {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        return lines
    }

    /// One line on stdout, unbuffered: a program reading it gets it at once.
    private func say(_ line: String) {
        _ = try? FileDescriptor.standardOutput.writeAll((line + "\n").utf8)
    }
}

/// What `vigil watch` knows of its camera, and the save decision.
final class Watcher: Sendable {
    private struct State {
        var newest: LiveFrame?
        var camera: CameraState?
        var connected = false
        var lastDisconnect: String?
        var frames = 0
        var framesAtLastStatus = 0
        var reconnects = 0
        var saved = 0
        var refused = 0
    }

    let camera: String
    let maxFrameAge: Duration
    let saveDir: String?
    private let state = Mutex(State())

    init(camera: String, maxFrameAge: Duration, saveDir: String?) {
        self.camera = camera
        self.maxFrameAge = maxFrameAge
        self.saveDir = saveDir
    }

    func observe(_ event: LiveEvent) {
        state.withLock { state in
            switch event {
            case .frame(let frame):
                state.newest = frame
                state.frames += 1
            case .state(let camera):
                state.camera = camera
            case .connected(let attempt):
                state.connected = true
                if attempt > 1 { state.reconnects += 1 }
            case .disconnected(let reason, _):
                state.connected = false
                state.lastDisconnect = reason
            }
        }
    }

    /// Saves the newest frame if it is fresh; the line to print either way.
    func save(because trigger: String) -> String {
        let (frame, refusal) = state.withLock { state -> (LiveFrame?, String?) in
            guard let frame = state.newest else { return (nil, "no frame received yet; \(Self.situation(state))") }
            let age = frame.age
            guard age <= maxFrameAge else {
                return (
                    nil,
                    "the newest frame is \(Self.format(age)) old (max \(Self.format(maxFrameAge))); \(Self.situation(state))"
                )
            }
            return (frame, nil)
        }
        guard let frame, let saveDir else {
            state.withLock { $0.refused += 1 }
            return "not saved (\(trigger)): \(refusal ?? "no --save-dir")"
        }
        let path = saveDir + "/" + camera + "-" + Self.fileStamp(Date()) + ".jpg"
        do {
            try frame.jpeg.withUnsafeReadableBytes { try AtomicFile.write($0, to: path) }
        } catch {
            state.withLock { $0.refused += 1 }
            return "not saved (\(trigger)): cannot write \(path): \(error)"
        }
        state.withLock { $0.saved += 1 }
        return "saved \(path) (\(trigger); age \(Self.format(frame.age)), \(frame.jpeg.readableBytes) bytes)"
    }

    /// `porch live 14.9 fps, frame age 35 ms, reconnects 0, saved 3, not saved 1`.
    func statusLine(over period: Duration) -> String {
        state.withLock { state in
            let fps = Double(state.frames - state.framesAtLastStatus) / period.seconds
            state.framesAtLastStatus = state.frames
            let phase = state.connected ? (state.camera?.phase.rawValue ?? "connecting") : "disconnected"
            let age = state.newest.map { Self.format($0.age) } ?? "none"
            return "\(camera) \(phase) \(fixed(fps, 1)) fps, frame age \(age), reconnects \(state.reconnects), "
                + "saved \(state.saved), not saved \(state.refused)"
        }
    }

    /// Why frames are not coming, as far as this side knows.
    private static func situation(_ state: State) -> String {
        guard state.connected else {
            return "not connected to the server (\(state.lastDisconnect ?? "connecting"))"
        }
        guard let camera = state.camera else { return "connected, no camera state yet" }
        let error = camera.lastError.map { ": \($0)" } ?? ""
        return "camera \(camera.id) is \(camera.phase.rawValue)\(camera.phase == .live ? "" : error)"
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds < 1 ? "\(Int(seconds * 1000)) ms" : "\(fixed(seconds, 1)) s"
    }

    /// `20261130-054512.345`: sorts by time, no characters a file system minds.
    static func fileStamp(_ date: Date) -> String {
        let iso = ISO8601.string(date)  // 2026-11-30T05:45:12.345Z
        return String(iso.filter { $0 != "-" && $0 != ":" && $0 != "Z" }.map { $0 == "T" ? "-" : $0 })
    }
}
