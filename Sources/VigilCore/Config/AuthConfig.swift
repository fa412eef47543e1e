import VigilAPI

/// `auth:`: who may connect, and how.
public struct AuthConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
        /// Every route but the page's files and `/healthz` needs a credential.
        case required
        /// No credential is asked for (`auth: {mode: none}`); said at every start.
        case none
    }

    /// A person: HTTP Basic and the page's login form.
    public struct User: Sendable, Equatable {
        public var name: String
        public var role: Role
        /// bcrypt (`vigil hash-password` prints one).
        public var passwordHash: String

        public init(name: String, role: Role, passwordHash: String) {
            self.name = name
            self.role = role
            self.passwordHash = passwordHash
        }
    }

    /// A program or an embedded page: `Authorization: Bearer` and `?token=`.
    public struct Token: Sendable, Equatable {
        public var name: String
        public var role: Role
        /// SHA-256 of the token, hex (`vigil new-token` prints both).
        public var sha256: String

        public init(name: String, role: Role, sha256: String) {
            self.name = name
            self.role = role
            self.sha256 = sha256
        }
    }

    /// Failed attempts from one address within `window` lock it out for `duration`.
    public struct Lockout: Sendable, Equatable {
        public var attempts = 5
        public var window: Duration = .seconds(300)
        public var duration: Duration = .seconds(300)
    }

    public var mode: Mode = .required
    public var users: [User] = []
    public var tokens: [Token] = []
    public var lockout = Lockout()
    /// How long the page's login lasts.
    public var sessionTTL: Duration = .seconds(12 * 3600)

    public init() {}
}
