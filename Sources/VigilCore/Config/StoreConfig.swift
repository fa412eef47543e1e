/// `store:`: where the records live.
public enum StoreConfig: Sendable, Equatable {
    /// `{kind: sqlite}` (the default): `vigil.sqlite` in the data dir.
    case sqlite
    /// `{kind: postgres, url: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE}`:
    /// shared by every node of a cluster.
    case postgres(PostgresAddress)
}

/// A PostgreSQL server and database, from a `postgres://` URL.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int = 5432
    public var username: String
    public var password: String?
    public var database: String
    /// `?sslmode=require`: TLS or no connection; `disable`: never TLS;
    /// otherwise (`prefer`, the default) TLS when the server offers it.
    public var tls: TLSMode = .prefer

    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// The URL without its password, for logs.
    public var description: String {
        "postgres://\(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }
}
