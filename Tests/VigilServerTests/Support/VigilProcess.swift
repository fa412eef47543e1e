import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real `vigil serve` child process on 127.0.0.1 with an ephemeral port.
final class VigilProcess: @unchecked Sendable {
    let process = Process()
    let dataDir: String
    private(set) var port = 0
    private let log = LogBuffer()
    private let stderrPipe = Pipe()

    var pid: pid_t { process.processIdentifier }
    var output: String { log.text }

    /// Starts the server with `config` (YAML) or no config; waits until it listens.
    /// `port` 0 picks a free one; a given port brings a server back where it was.
    /// `environment` is added to the test's own.
    init(
        config: String?, dir: TempDir, dataDir: String? = nil, host: String = "127.0.0.1", port: Int = 0,
        environment: [String: String] = [:]
    ) throws {
        self.dataDir = dataDir ?? dir.file("data")
        var arguments = ["serve", "--port", String(port), "--data-dir", self.dataDir, "--host", host]
        if let config {
            let path = dir.file("vigil-\(UUID().uuidString.prefix(8)).yml")
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            arguments += ["--config", path]
        }
        process.executableURL = URL(fileURLWithPath: Binaries.vigil)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderrPipe
        process.standardInput = FileHandle.nullDevice
        log.collect(from: stderrPipe)
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let port = Self.listeningPort(in: output) {
                self.port = port
                return
            }
            if !process.isRunning { break }
            usleep(20_000)
        }
        process.terminate()
        throw TimeoutError(description: "vigil did not start listening:\n\(output)")
    }

    static func listeningPort(in log: String) -> Int? {
        guard let range = log.range(of: "listening on http://") ?? log.range(of: "listening on https://") else {
            return nil
        }
        let address = log[range.upperBound...].prefix { !$0.isWhitespace }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...].prefix { $0.isNumber })
    }

    /// Sends SIGTERM and waits; returns how long the exit took in seconds.
    @discardableResult
    func stop(timeout: TimeInterval = 15) -> TimeInterval {
        let start = Date()
        guard process.isRunning else { return 0 }
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning, Date().timeIntervalSince(start) < timeout {
            usleep(10_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return Date().timeIntervalSince(start)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}

/// The server's stderr, collected as it arrives.
final class LogBuffer: Sendable {
    private let storage = Mutex<String>("")
    var text: String { storage.withLock { $0 } }
    func append(_ text: String) { storage.withLock { $0 += text } }

    /// Appends what a child process writes to `pipe`, as it arrives.
    func collect(from pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            append(String(decoding: data, as: UTF8.self))
        }
    }
}
