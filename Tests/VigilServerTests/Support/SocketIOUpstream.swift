import Foundation
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// A Socket.IO server in a child process on 127.0.0.1 emitting test-pattern
/// JPEGs: the real python-socketio one (`scripts/socketio_upstream.py`), or
/// the hand-written one that sends malformed traffic
/// (`scripts/socketio_faulty_upstream.py`, see `faulty`).
final class SocketIOUpstream: @unchecked Sendable {
    let process = Process()
    let dir: TempDir
    private(set) var port = 0
    private let log = LogBuffer()
    private let commands = Pipe()
    /// The good frames it sends.
    private(set) var frames: [Data] = []

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../..").standardized.path

    /// A JPEG the faulty server sends only inside a broken event: a frame
    /// that must never be shown.
    static let poison: Data = {
        let renderer = try! TestPatternRenderer(label: "POISON", width: 160, height: 120, quality: 70)
        return Data(try! renderer.render(index: 99).buffer.readableBytesView)
    }()

    /// The malformed-traffic server; `script` as its `--script` takes it.
    static func faulty(script: String, maxFrameBytes: Int) throws -> SocketIOUpstream {
        try SocketIOUpstream(
            ["--script", script, "--max-frame-bytes", String(maxFrameBytes)], program: "socketio_faulty_upstream.py")
    }

    init(_ arguments: [String], program: String = "socketio_upstream.py") throws {
        dir = try TempDir()
        let renderer = try TestPatternRenderer(label: "sio", width: 160, height: 120, quality: 70)
        for index in 0..<5 {
            let jpeg = Data(try renderer.render(index: index).buffer.readableBytesView)
            frames.append(jpeg)
            try jpeg.write(to: URL(fileURLWithPath: dir.file("frame-\(index).jpg")))
        }
        var arguments = arguments
        if program != "socketio_upstream.py" {
            try Self.poison.write(to: URL(fileURLWithPath: dir.file("poison.jpeg")))
            arguments += ["--poison", dir.file("poison.jpeg")]
        }
        process.executableURL = URL(fileURLWithPath: Self.repository + "/.build-python/venv/bin/python")
        process.arguments = [Self.repository + "/scripts/" + program, "--frames-dir", dir.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = commands
        process.standardError = FileHandle.nullDevice
        log.collect(from: output)
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, process.isRunning {
            if let range = log.text.range(of: "listening on "),
                let port = Int(log.text[range.upperBound...].prefix { $0.isNumber })
            {
                self.port = port
                return
            }
            usleep(20_000)
        }
        stop()
        throw TimeoutError(description: "the Socket.IO upstream did not start: \(log.text)")
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Namespace sessions the server accepted so far.
    var sessions: Int { lines(starting: "connect ").count }

    /// The output lines that start with `prefix`, without it.
    func lines(starting prefix: String) -> [Substring] {
        log.text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { $0.dropFirst(prefix.count) }
    }

    /// When (server clock, seconds since the epoch) the `index`th session
    /// connected and a `command` was obeyed.
    func connectedAt(_ index: Int) -> Double? {
        let found = lines(starting: "connect ")
        return found.indices.contains(index) ? found[index].split(separator: " ").last.flatMap { Double($0) } : nil
    }

    /// Sends one command of `socketio_upstream.py` (`mute`, `unmute`,
    /// `no-ping`, `kick`) and waits until it was obeyed; when, in its clock.
    @discardableResult
    func command(_ command: String) async throws -> Double {
        let done = lines(starting: command + " ").count
        commands.fileHandleForWriting.write(Data((command + "\n").utf8))
        try await waitUntil("the upstream obeyed \(command)") { lines(starting: command + " ").count > done }
        return Double(lines(starting: command + " ")[done]) ?? 0
    }

    /// Freezes the server (no heartbeat, no frame) or lets it go on.
    func pause() { kill(process.processIdentifier, SIGSTOP) }
    func resume() { kill(process.processIdentifier, SIGCONT) }

    /// SIGTERM, then SIGKILL after 5 s; polled (`waitUntilExit` needs a run loop).
    func stop() {
        if process.isRunning {
            let pid = process.processIdentifier
            kill(pid, SIGCONT)
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
        dir.remove()
    }

    deinit { stop() }
}
