/// What a credential may do. Each role may do what the ones below it may.
public enum Role: String, Codable, Sendable, Comparable, CaseIterable {
    /// `GET /metrics` only: for a Prometheus server's scrape token.
    case metrics
    /// Streams, snapshots, the events socket, the lists of captures, motion
    /// events and sessions (and the metrics).
    case viewer
    /// And start, stop and capture.
    case `operator`
    /// And push frames and upload sessions.
    case admin

    private var rank: Int {
        switch self {
        case .metrics: return -1
        case .viewer: return 0
        case .operator: return 1
        case .admin: return 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who the server recognised: what `GET /api/v1/me` answers.
public struct Identity: Codable, Sendable, Equatable {
    /// The user's or the token's name (`anonymous` when the server runs open).
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}

/// What the page's login form sends to `POST /api/v1/login`.
public struct LoginRequest: Codable, Sendable, Equatable {
    public var name: String
    public var password: String

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}
