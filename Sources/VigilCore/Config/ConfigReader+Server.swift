extension ConfigReader {
    static let serverSection = ConfigSection<ServerConfig>([
        ("host", { r, node, path, server in if let host = r.nonEmptyString(node, path) { server.host = host } }),
        ("port", { r, node, path, server in if let port = r.int(node, path, range: 0...65535) { server.port = port } }),
        ("data_dir", { r, node, path, server in if let dir = r.nonEmptyString(node, path) { server.dataDir = dir } }),
        (
            "max_clients_per_camera",
            { r, node, path, server in
                if let n = r.int(node, path, range: 1...100_000) { server.maxClientsPerCamera = n }
            }
        ),
        ("tls", { r, node, path, server in server.tls = r.readTLS(node, path) }),
        (
            "max_connections_per_address",
            { r, node, path, server in
                if let n = r.int(node, path, range: 1...100_000) { server.maxConnectionsPerAddress = n }
            }
        ),
        (
            "idle_timeout",
            { r, node, path, server in
                if let d = r.duration(node, path, min: .milliseconds(100)) { server.idleTimeout = d }
            }
        ),
    ])

    /// `server:`.
    mutating func readServer(_ node: YAMLNode, _ path: String) -> ServerConfig {
        var server = ServerConfig()
        read(node, path, into: &server, Self.serverSection)
        return server
    }
}
