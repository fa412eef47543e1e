import Crypto
import HTTPTypes
import HummingbirdAuth
import HummingbirdBcrypt
import HummingbirdCore
import Logging
import NIOCore
import Synchronization
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decides every request and socket: who it comes from (Bearer token,
/// `?token=`, HTTP Basic, the page's session cookie) and whether that role
/// may use the route (`AccessTable`). Secrets are compared as SHA-256
/// digests in constant time; passwords with bcrypt, whose cost (about a
/// quarter of a second) is paid once per password and then remembered for a
/// while, so that a camera viewer polling with Basic credentials stays cheap.
final class AccessControl: Sendable {
    enum Decision: Sendable, Equatable {
        case allowed(Identity)
        /// No credential, or a wrong one: 401 with `WWW-Authenticate`.
        case unauthenticated
        /// A right credential without the role: 403.
        case forbidden(Identity)
        /// Too many failures from this address: 429.
        case lockedOut

        var isAllowed: Bool {
            if case .allowed = self { return true }
            return false
        }
    }

    /// Who anyone is when the server runs open.
    static let anonymous = Identity(name: "anonymous", role: .admin)
    static let realm = "vigil"

    let config: AuthConfig
    let sessions: SessionCookie
    private let lockout: LockoutTracker
    private let logger: Logger
    /// Passwords bcrypt accepted lately: SHA-256 of "user:password" → until when.
    private let verified = Mutex<[SHA256Digest: ContinuousClock.Instant]>([:])

    init(config: AuthConfig, sessionKey: SymmetricKey, logger: Logger) {
        self.config = config
        self.sessions = SessionCookie(key: sessionKey, ttl: config.sessionTTL)
        self.lockout = LockoutTracker(config.lockout, logger: logger)
        self.logger = logger
    }

    var isOpen: Bool { config.mode == .none }

    /// The role of the user or token called `name`, for a connection that
    /// authenticates elsewhere (the MQTT broker): any role when the server
    /// runs open, nil for a name Vigil does not know.
    func role(ofName name: String?) -> Role? {
        if isOpen { return Self.anonymous.role }
        guard let name else { return nil }
        return config.users.first { $0.name == name }?.role ?? config.tokens.first { $0.name == name }?.role
    }

    /// The decision for a request. `counting: false` checks without
    /// recording a failure (the request goes on to a place that counts).
    func decide(_ request: HTTPRequest, uri: URI, remote: SocketAddress?, counting: Bool = true) -> Decision {
        let isSocket = request.headerFields[.upgrade]?.lowercased() == "websocket"
        let needed = AccessTable.role(method: isSocket ? nil : request.method, path: uri.path)
        return decide(
            needed: needed, fields: request.headerFields, queryToken: uri.queryParameters.get("token"),
            remote: remote, counting: counting)
    }

    func decide(
        needed: Role?, fields: HTTPFields, queryToken: String?, remote: SocketAddress?, counting: Bool = true
    ) -> Decision {
        guard let needed, !isOpen else { return .allowed(Self.anonymous) }
        let address = remote?.ipAddress ?? "unknown"
        if lockout.isLockedOut(address) { return .lockedOut }
        guard let identity = identify(fields: fields, queryToken: queryToken) else {
            if counting, hasCredential(fields: fields, queryToken: queryToken) {
                lockout.recordFailure(address)
                if lockout.isLockedOut(address) { return .lockedOut }
            }
            return .unauthenticated
        }
        return identity.role >= needed ? .allowed(identity) : .forbidden(identity)
    }

    /// Checks a name and password (the login form): counted like any other.
    func login(name: String, password: String, remote: SocketAddress?) -> Decision {
        let address = remote?.ipAddress ?? "unknown"
        if lockout.isLockedOut(address) { return .lockedOut }
        guard let identity = checkPassword(name: name, password: password) else {
            lockout.recordFailure(address)
            return lockout.isLockedOut(address) ? .lockedOut : .unauthenticated
        }
        return .allowed(identity)
    }

    // MARK: - Credentials

    private func hasCredential(fields: HTTPFields, queryToken: String?) -> Bool {
        fields[.authorization] != nil || queryToken != nil || fields[.cookie] != nil
    }

    private func identify(fields: HTTPFields, queryToken: String?) -> Identity? {
        if let bearer = fields.bearer { return checkToken(bearer.token) }
        if let basic = fields.basic { return checkPassword(name: basic.username, password: basic.password) }
        if let queryToken { return checkToken(queryToken) }
        if let cookie = SessionCookie.value(in: fields), let identity = sessions.identity(from: cookie) {
            // Only a user that is still configured, with the same role.
            return config.users.contains { $0.name == identity.name && $0.role == identity.role } ? identity : nil
        }
        return nil
    }

    private func checkToken(_ token: String) -> Identity? {
        guard token.utf8.count <= 256 else { return nil }
        let digest = Data(SHA256.hash(data: Data(token.utf8)))
        var found: Identity?
        // Every configured token is compared, so the time does not say which matched.
        for candidate in config.tokens {
            if let expected = Self.bytes(hex: candidate.sha256), Self.constantTimeEqual(expected, digest) {
                found = Identity(name: candidate.name, role: candidate.role)
            }
        }
        return found
    }

    private func checkPassword(name: String, password: String) -> Identity? {
        guard name.utf8.count <= 64, password.utf8.count <= 256 else { return nil }
        guard let user = config.users.first(where: { $0.name == name }) else {
            // Unknown users cost what known ones cost.
            _ = Bcrypt.verify(password, hash: Self.decoyHash)
            return nil
        }
        let key = SHA256.hash(data: Data("\(name):\(password):\(user.passwordHash)".utf8))
        let now = ContinuousClock.now
        if let until = verified.withLock({ $0[key] }), until > now {
            return Identity(name: user.name, role: user.role)
        }
        guard Bcrypt.verify(password, hash: user.passwordHash) else { return nil }
        verified.withLock { cache in
            cache = cache.filter { $0.value > now }
            if cache.count < 1024 { cache[key] = now + .seconds(600) }
        }
        return Identity(name: user.name, role: user.role)
    }

    /// A valid bcrypt hash of nothing anyone knows.
    private static let decoyHash = Bcrypt.hash("decoy: not a password", cost: 12)

    static func bytes(hex: String) -> Data? {
        var bytes = Data()
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
