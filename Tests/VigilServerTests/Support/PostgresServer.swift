import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real PostgreSQL server (Debian's `postgresql`) in a child process on
/// 127.0.0.1: `initdb` in a temp dir, on a free port, trusting local
/// connections, fsync off (a test cluster, thrown away after). As root it
/// runs as the `postgres` user, which PostgreSQL requires.
final class PostgresServer: @unchecked Sendable {
    let port: Int
    let dataDir: String
    private let bin: String
    private var process: Process?

    init(dir: TempDir) throws {
        bin = try Self.binDir()
        let root = dir.file("postgres")
        dataDir = root + "/data"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if let user = Self.postgresUser {
            guard chown(root, user.uid, user.gid) == 0 else {
                throw HTTPTestError(description: "cannot give \(root) to the postgres user: errno \(errno)")
            }
        }
        port = try freePort()
        try Self.run(
            bin + "/initdb", ["-D", dataDir, "-U", "vigil", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        try start()
    }

    /// The newest installed server's programs.
    static func binDir() throws -> String {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init)
        guard let newest = versions.max() else {
            throw HTTPTestError(description: "PostgreSQL is not installed (scripts/install-deps.sh installs it)")
        }
        return "\(base)/\(newest)/bin"
    }

    static var postgresUser: (uid: uid_t, gid: gid_t)? {
        guard getuid() == 0, let entry = getpwnam("postgres") else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    /// `program` as the postgres user when the tests run as root.
    private static func command(_ program: String, _ arguments: [String]) -> (String, [String]) {
        guard postgresUser != nil else { return (program, arguments) }
        return ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", program] + arguments)
    }

    @discardableResult
    private static func run(_ program: String, _ arguments: [String]) throws -> String {
        let (path, argv) = command(program, arguments)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = argv
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw HTTPTestError(description: "\(program) failed (\(process.terminationStatus)): \(text)")
        }
        return text
    }

    /// Starts (again) on the same port and data; returns once it takes queries.
    func start() throws {
        let (path, argv) = Self.command(
            bin + "/postgres",
            [
                "-D", dataDir, "-p", String(port), "-k", dataDir, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "max_connections=200", "-c", "log_min_messages=fatal",
            ])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = argv
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if (try? Self.run(bin + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", String(port)])) != nil { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        throw HTTPTestError(description: "PostgreSQL did not start on \(port)")
    }

    /// A fast shutdown (SIGINT: sessions cut, no crash recovery needed);
    /// returns once the server is gone.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
    }

    /// A new empty database; answers its URL.
    func createDatabase(_ name: String) throws -> String {
        try Self.run(
            bin + "/psql",
            [
                "-h", "127.0.0.1", "-p", String(port), "-U", "vigil", "-d", "postgres",
                "-q", "-c", "CREATE DATABASE \(name)",
            ])
        return "postgres://vigil@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    /// One value from `sql` on `database`, as psql prints it.
    func query(_ sql: String, database: String) throws -> String {
        try Self.run(
            bin + "/psql",
            [
                "-h", "127.0.0.1", "-p", String(port), "-U", "vigil", "-d", database,
                "-At", "-c", sql,
            ]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { stop() }
}
