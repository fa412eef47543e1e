import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real mosquitto broker in a child process on 127.0.0.1, with its config
/// (and persistence, when asked) in a temp dir.
final class Mosquitto: @unchecked Sendable {
    let port: Int
    let dir: TempDir
    private var process: Process?
    private let extra: String

    /// `extra`: more lines of `mosquitto.conf` (a password file, persistence).
    init(dir: TempDir, port: Int? = nil, extra: String = "allow_anonymous true") throws {
        self.dir = dir
        self.port = try port ?? freePort()
        self.extra = extra
        try start()
    }

    /// Starts (again) on the same port; returns once it accepts connections.
    func start() throws {
        let config = dir.file("mosquitto-\(port).conf")
        try "listener \(port) 127.0.0.1\n\(extra)\n".write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", config]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let connection = try? HTTPConnection(port: port, timeout: 1) {
                connection.close()
                return
            }
            usleep(20_000)
        }
        throw HTTPTestError(description: "mosquitto did not listen on \(port)")
    }

    var pid: pid_t { process?.processIdentifier ?? 0 }

    /// SIGKILL, as a crash would (a child of the test runner does not get
    /// SIGTERM in time: the runner's threads block it). With persistence,
    /// `autosave_interval 1` has saved the sessions.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { usleep(5_000) }
    }

    deinit { stop() }
}

/// `mosquitto_sub` on every topic under `filter`: what a real client of the
/// broker receives, each message as topic, length and payload (hex).
final class MQTTWatcher: @unchecked Sendable {
    struct Message: Sendable {
        var topic: String
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    let process = Process()
    private let log = LogBuffer()

    /// `session`: a client id with a persistent session (QoS 1), so the
    /// broker keeps its messages while it is away.
    init(port: Int, filter: String = "#", session: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        var arguments = ["-h", "127.0.0.1", "-p", String(port), "-t", filter, "-F", "%t %x", "-q", "1"]
        if let session { arguments += ["-c", "-i", session] }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        log.collect(from: output)
        try process.run()
    }

    var messages: [Message] {
        log.text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            var bytes: [UInt8] = []
            var hex = parts[1].makeIterator()
            while let high = hex.next(), let low = hex.next(), let byte = UInt8(String([high, low]), radix: 16) {
                bytes.append(byte)
            }
            return Message(topic: String(parts[0]), payload: bytes)
        }
    }

    func texts(_ topic: String) -> [String] { messages.filter { $0.topic == topic }.map(\.text) }

    /// SIGKILL: mosquitto_sub takes SIGTERM only at its next network wakeup.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { usleep(5_000) }
    }

    deinit { stop() }
}

/// `mosquitto_pub` of one message.
func mqttPublish(port: Int, topic: String, _ message: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
    process.arguments = ["-h", "127.0.0.1", "-p", String(port), "-t", topic, "-m", message, "-q", "1"]
    try process.run()
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning, Date() < deadline { usleep(5_000) }
    guard !process.isRunning, process.terminationStatus == 0 else {
        throw HTTPTestError(description: "mosquitto_pub exited with \(process.terminationStatus)")
    }
}
