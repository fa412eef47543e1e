import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension ConfigReader {
    /// `store: {kind: sqlite}` or `store: {kind: postgres, url: …}`.
    mutating func readStore(_ node: YAMLNode, _ path: String) -> StoreConfig {
        var kind: String?
        var url: String?
        for (key, value) in mapping(node, path, allowed: ["kind", "url"]) {
            switch key {
            case "kind": kind = string(value, join(path, key))
            default: url = string(value, join(path, key))
            }
        }
        switch kind {
        case "sqlite", nil:
            if url != nil { fail(join(path, "url"), "an sqlite store lives in server.data_dir; it takes no url") }
            return .sqlite
        case "postgres":
            guard let url else {
                fail(join(path, "url"), "missing: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
                return .sqlite
            }
            switch Self.postgresAddress(url) {
            case .success(let address): return .postgres(address)
            case .failure(let problem):
                fail(join(path, "url"), problem.message)
                return .sqlite
            }
        case let other?:
            fail(join(path, "kind"), "unknown store '\(other)' (expected sqlite or postgres)")
            return .sqlite
        }
    }

    struct URLProblem: Error {
        let message: String
    }

    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
    static func postgresAddress(_ text: String) -> Result<PostgresAddress, URLProblem> {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else {
            return .failure(URLProblem(message: "'\(text.prefix(80))' is not a postgres:// URL"))
        }
        guard let host = url.host(percentEncoded: false), !host.isEmpty else {
            return .failure(URLProblem(message: "the URL has no host"))
        }
        guard let user = url.user(percentEncoded: false), !user.isEmpty else {
            return .failure(URLProblem(message: "the URL has no user (postgres://USER@HOST/DATABASE)"))
        }
        let database = String(url.path(percentEncoded: false).drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            return .failure(URLProblem(message: "the URL names no database (postgres://USER@HOST/DATABASE)"))
        }
        if let port = url.port, !(1...65535).contains(port) {
            return .failure(URLProblem(message: "port \(port) is out of range"))
        }
        var address = PostgresAddress(
            host: host, port: url.port ?? 5432, username: user, password: url.password(percentEncoded: false),
            database: database)
        for item in (url.query ?? "").split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0] == "sslmode" else {
                return .failure(URLProblem(message: "unknown URL parameter '\(item.prefix(40))' (only sslmode)"))
            }
            guard let mode = PostgresAddress.TLSMode(rawValue: pair[1]) else {
                return .failure(URLProblem(message: "sslmode must be disable, prefer or require"))
            }
            address.tls = mode
        }
        return .success(address)
    }

    /// `cluster: {node_id, advertise_url, lease}`.
    mutating func readCluster(_ node: YAMLNode, _ path: String) -> ClusterConfig? {
        var nodeID: String?
        var advertise: String?
        var lease: Duration?
        var token: String?
        for (key, value) in mapping(node, path, allowed: ["node_id", "advertise_url", "lease", "token"]) {
            let at = join(path, key)
            switch key {
            case "node_id":
                guard let id = string(value, at) else { continue }
                if Identifier.isValid(id, .camera) {
                    nodeID = id
                } else {
                    fail(at, "a node id is 1-64 letters, digits, _ or -")
                }
            case "advertise_url":
                advertise = url(value, at, schemes: ["http", "https"])
            case "token":
                guard let text = string(value, at) else { continue }
                if text.utf8.count < 16 || text.contains(where: \.isWhitespace) {
                    fail(at, "a cluster token is at least 16 characters without spaces (vigil new-token makes one)")
                } else {
                    token = text
                }
            default:
                guard let d = duration(value, at, min: .seconds(3)) else { continue }
                if d > .seconds(300) { fail(at, "at most 5m") } else { lease = d }
            }
        }
        guard let nodeID else {
            fail(join(path, "node_id"), "missing: this node's name, unique in the cluster")
            return nil
        }
        guard var advertise else {
            fail(join(path, "advertise_url"), "missing: where other nodes reach this one, e.g. http://10.0.0.5:8080")
            return nil
        }
        while advertise.hasSuffix("/") { advertise.removeLast() }
        var cluster = ClusterConfig(nodeID: nodeID, advertiseURL: advertise)
        if let lease { cluster.lease = lease }
        cluster.token = token
        return cluster
    }
}
