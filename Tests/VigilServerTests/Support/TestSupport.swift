import Crypto
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `vigil` binary built next to the test bundle.
enum Binaries {
    static let vigil: String = {
        let exe =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        let candidate = dir.appendingPathComponent("vigil").path
        precondition(FileManager.default.isExecutableFile(atPath: candidate), "vigil not built at \(candidate)")
        return candidate
    }()

    /// `vigil-load`, built beside `vigil`.
    static let vigilLoad: String = {
        let candidate = URL(fileURLWithPath: vigil).deletingLastPathComponent().appendingPathComponent("vigil-load")
            .path
        precondition(FileManager.default.isExecutableFile(atPath: candidate), "vigil-load not built at \(candidate)")
        return candidate
    }()

    /// Runs `vigil-load ARGUMENTS` to completion.
    static func runLoad(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(arguments, program: vigilLoad)
    }

    /// Runs `vigil ARGUMENTS` (or another of the built programs) to
    /// completion; its exit status and output.
    static func run(_ arguments: [String], program: String = vigil) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes at once: a full stderr pipe must not block the child.
        let stderrData = Mutex(Data())
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            stderrData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            done.signal()
        }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        done.wait()
        process.waitUntilExit()
        return (process.terminationStatus, stdout, String(decoding: stderrData.withLock { $0 }, as: UTF8.self))
    }

    /// argv for a fake camera as a YAML flow list.
    static func fakeCameraCommand(_ arguments: [String]) -> String {
        let argv = [vigil, "fake-camera"] + arguments
        return "[" + argv.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` until it holds or `timeout` passes. Used where the
/// event lives in another process (a state only visible through its API).
func waitUntil(
    _ what: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw TimeoutError(description: "timed out after \(timeout) waiting for: \(what)")
}

/// A fresh temporary directory, removed by `remove()`.
struct TempDir {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Process facts read from /proc.
enum ProcFS {
    /// Resident set size in bytes.
    static func rss(pid: pid_t) -> Int? {
        statusBytes(pid: pid, "VmRSS")
    }

    /// Anonymous resident memory in bytes (the heap; what a leak grows),
    /// without the mapped binary and libraries that RSS also counts.
    static func rssAnon(pid: pid_t) -> Int? {
        statusBytes(pid: pid, "RssAnon")
    }

    /// A `kB` field of /proc/PID/status, in bytes.
    private static func statusBytes(pid: pid_t, _ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// Whether `pid` exists and is not a zombie.
    static func isRunning(pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Whether `pid` exists at all (a zombie counts).
    static func exists(pid: pid_t) -> Bool {
        FileManager.default.fileExists(atPath: "/proc/\(pid)")
    }

    /// The children of `pid` (from /proc/*/stat).
    static func children(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// Open file descriptors of this process.
    static func openFileDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// Open file descriptors of another process.
    static func openFileDescriptors(pid: pid_t) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// PIDs written to a fake camera's --pid-file.
    static func pids(inFile path: String) -> [pid_t] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }
}

/// Runs `body` with a real `vigil serve` (`config` as YAML, or none) in a
/// fresh temporary directory; the server is stopped and the directory
/// removed afterwards, whatever `body` does.
func withServer<T>(
    config: String?, _ body: (_ server: VigilProcess, _ dir: TempDir) async throws -> T
) async throws -> T {
    let dir = try TempDir()
    defer { dir.remove() }
    let server = try VigilProcess(config: config, dir: dir)
    defer { server.stop() }
    return try await body(server, dir)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for servers that
/// cannot be told to pick one and say which).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw HTTPTestError(description: "no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The `token_sha256` of a token, as `auth.tokens` in a config wants it.
func tokenSHA256(_ token: String) -> String {
    SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// The `result: key=value …` line a load tool prints.
enum BenchLine {
    static func parse(_ output: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("result: ") {
            for pair in line.dropFirst(8).split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
            }
        }
        return values
    }
}
