import Foundation
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// A real python-socketio server (`scripts/socketio_upstream.py`) emitting
/// test-pattern JPEGs, in a child process on 127.0.0.1.
final class SocketIOUpstream: @unchecked Sendable {
    let process = Process()
    let dir: TempDir
    private(set) var port = 0
    private let log = LogBuffer()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../..").standardized.path

    init(_ arguments: [String]) throws {
        dir = try TempDir()
        let renderer = try TestPatternRenderer(label: "sio", width: 160, height: 120, quality: 70)
        for index in 0..<5 {
            let jpeg = try renderer.render(index: index).buffer
            try Data(jpeg.readableBytesView).write(to: URL(fileURLWithPath: dir.file("frame-\(index).jpg")))
        }
        process.executableURL = URL(fileURLWithPath: Self.repository + "/.build-python/venv/bin/python")
        process.arguments = [Self.repository + "/scripts/socketio_upstream.py", "--frames-dir", dir.path] + arguments
        let output = Pipe()
        process.standardOutput = output
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
    var sessions: Int {
        log.text.components(separatedBy: "\nconnect ").count - 1 + (log.text.hasPrefix("connect ") ? 1 : 0)
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
