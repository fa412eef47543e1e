import Crypto
import Logging
import SystemPackage
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Turns the config into the server's `AccessControl`, safe by default:
///
/// - `auth:` given: as written; `mode: none` runs open, with a warning at
///   every start when the address is not loopback.
/// - no `auth:` and a loopback address: open (only this machine can connect).
/// - no `auth:` and any other address: an admin token is made at first start,
///   kept in the data dir (mode 0600) and required; the URL with it is
///   printed when it is made.
enum AccessSetup {
    struct Result {
        let access: AccessControl
        /// A token made by this start, to print once with the URL.
        let newAdminToken: String?
    }

    static func resolve(_ config: VigilConfig, logger: Logger) throws -> Result {
        var resolved = try resolveConfig(config, logger: logger)
        if let token = config.cluster?.token {
            // The other nodes of the cluster relay cameras from this one with it.
            resolved.auth.tokens.append(
                AuthConfig.Token(
                    name: "cluster", role: .viewer, sha256: AccessControl.hexString(SHA256.hash(data: Data(token.utf8)))
                )
            )
        }
        let directory = DataDirectory(config.server.dataDir)
        let key = SymmetricKey(data: try secret(at: directory.sessionKey, bytes: 32))
        return Result(
            access: AccessControl(config: resolved.auth, sessionKey: key, logger: logger),
            newAdminToken: resolved.newAdminToken)
    }

    /// The `auth:` in force, and a token made by this start.
    private static func resolveConfig(_ config: VigilConfig, logger: Logger) throws -> (
        auth: AuthConfig, newAdminToken: String?
    ) {
        let directory = DataDirectory(config.server.dataDir)
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        let loopback = isLoopback(config.server.host)
        if let auth = config.auth {
            if auth.mode == .none, !loopback {
                logger.warning(
                    "auth is off (auth: {mode: none}) on \(config.server.host): anyone who can reach this port can watch, stop and feed every camera"
                )
            }
            return (auth, nil)
        }
        var auth = AuthConfig()
        guard !loopback else {
            auth.mode = .none
            return (auth, nil)
        }
        let existed = FileManager.default.fileExists(atPath: directory.adminToken)
        let token = try adminToken(at: directory.adminToken)
        auth.tokens = [
            AuthConfig.Token(
                name: "admin", role: .admin, sha256: AccessControl.hexString(SHA256.hash(data: Data(token.utf8))))
        ]
        logger.notice(
            "no auth: section and a non-loopback address: the admin token in \(directory.adminToken) is required")
        return (auth, existed ? nil : token)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The admin token kept at `path` (hex text, mode 0600), made at first use.
    private static func adminToken(at path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path) {
            let token = String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
            if !token.isEmpty { return token }
        }
        let token = AccessControl.hexString(randomBytes(24))
        try create(path, contents: Array((token + "\n").utf8))
        return token
    }

    /// The key kept at `path` (32 raw bytes, mode 0600), made at first use.
    private static func secret(at path: String, bytes count: Int) throws -> [UInt8] {
        if let data = FileManager.default.contents(atPath: path), data.count == count { return Array(data) }
        let key = randomBytes(count)
        try? FileManager.default.removeItem(atPath: path)
        try create(path, contents: key)
        return key
    }

    private static func randomBytes(_ count: Int) -> [UInt8] {
        var random = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Creates `path` readable by its owner only, with `contents`, durably.
    private static func create(_ path: String, contents: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AccessSetupError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        try FileDescriptor(rawValue: fd).writeAll(contents)
        fsync(fd)
    }
}

struct AccessSetupError: Error, CustomStringConvertible {
    let description: String
}
