import VigilAPI

extension ConfigReader {
    static let authSection = ConfigSection<AuthConfig>([
        (
            "mode",
            { r, node, path, auth in
                guard let text = r.string(node, path) else { return }
                if let mode = AuthConfig.Mode(rawValue: text) {
                    auth.mode = mode
                } else {
                    r.fail(path, "expected required or none")
                }
            }
        ),
        ("users", { r, node, path, auth in auth.users = r.readUsers(node, path) }),
        ("tokens", { r, node, path, auth in auth.tokens = r.readTokens(node, path) }),
        ("lockout", { r, node, path, auth in r.read(node, path, into: &auth.lockout, Self.lockoutSection) }),
        (
            "session_ttl",
            { r, node, path, auth in if let d = r.duration(node, path, min: .seconds(60)) { auth.sessionTTL = d } }
        ),
    ])

    static let lockoutSection = ConfigSection<AuthConfig.Lockout>([
        (
            "attempts",
            { r, node, path, lockout in if let n = r.int(node, path, range: 1...1000) { lockout.attempts = n } }
        ),
        (
            "window",
            { r, node, path, lockout in if let d = r.duration(node, path, min: .seconds(1)) { lockout.window = d } }
        ),
        (
            "duration",
            { r, node, path, lockout in if let d = r.duration(node, path, min: .seconds(1)) { lockout.duration = d } }
        ),
    ])

    /// `auth:`.
    mutating func readAuth(_ node: YAMLNode, _ path: String) -> AuthConfig {
        var auth = AuthConfig()
        read(node, path, into: &auth, Self.authSection)
        var names = Set<String>()
        for name in auth.users.map(\.name) + auth.tokens.map(\.name) where !names.insert(name).inserted {
            fail(path, "the name '\(name)' is used twice (users and tokens share names)")
        }
        if auth.mode == .required, auth.users.isEmpty, auth.tokens.isEmpty {
            fail(path, "needs at least one user or token (or mode: none to run open)")
        }
        return auth
    }

    /// One `{name, role, ...}` entry of a list, read field by field.
    private struct Entry {
        var name: String?
        var role: Role?
        var secret: String?
    }

    private mutating func entries(_ node: YAMLNode, _ path: String, secretKey: String) -> [(Int, Entry)] {
        guard case .sequence(let items) = node else {
            fail(path, "expected a list of {name, role, \(secretKey)}")
            return []
        }
        var result: [(Int, Entry)] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            var entry = Entry()
            for (key, value) in mapping(item, itemPath, allowed: ["name", "role", secretKey]) {
                let keyPath = join(itemPath, key)
                switch key {
                case "name":
                    if let name = string(value, keyPath) {
                        if Identifier.isValid(name, .camera) {
                            entry.name = name
                        } else {
                            fail(keyPath, "must be 1-64 letters, digits, '_' or '-'")
                        }
                    }
                case "role":
                    if let text = string(value, keyPath) {
                        if let role = Role(rawValue: text) {
                            entry.role = role
                        } else {
                            fail(keyPath, "expected viewer, operator or admin")
                        }
                    }
                default:
                    entry.secret = string(value, keyPath)
                }
            }
            for (key, present) in [("name", entry.name), ("role", entry.role?.rawValue), (secretKey, entry.secret)]
            where present == nil {
                if case .mapping(let fields) = item, !fields.contains(where: { $0.key == key }) {
                    fail(join(itemPath, key), "missing")
                }
            }
            result.append((index, entry))
        }
        return result
    }

    mutating func readUsers(_ node: YAMLNode, _ path: String) -> [AuthConfig.User] {
        entries(node, path, secretKey: "password_hash").compactMap { index, entry in
            guard let name = entry.name, let role = entry.role, let hash = entry.secret else { return nil }
            guard hash.hasPrefix("$2"), hash.utf8.count == 60 else {
                fail("\(path)[\(index)].password_hash", "expected a bcrypt hash from `vigil hash-password`")
                return nil
            }
            return AuthConfig.User(name: name, role: role, passwordHash: hash)
        }
    }

    mutating func readTokens(_ node: YAMLNode, _ path: String) -> [AuthConfig.Token] {
        entries(node, path, secretKey: "token_sha256").compactMap { index, entry in
            guard let name = entry.name, let role = entry.role, let digest = entry.secret?.lowercased() else {
                return nil
            }
            guard digest.utf8.count == 64,
                digest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            else {
                fail("\(path)[\(index)].token_sha256", "expected the 64 hex digits `vigil new-token` prints")
                return nil
            }
            return AuthConfig.Token(name: name, role: role, sha256: digest)
        }
    }
}
