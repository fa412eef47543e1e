// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import PostgresNIO

    /// The cluster's tables: nodes with their heartbeat, cameras with their
    /// lease. Every time comes from the database's `clock_timestamp()`, so
    /// nodes whose clocks disagree still agree on who holds what.
    extension PostgresStore {
        /// Says this node is alive and where to reach it.
        public func heartbeat(advertiseURL: String) async throws {
            try await execute(
                """
                INSERT INTO cluster_nodes (node, advertise_url, heartbeat_at) VALUES (\(node), \(advertiseURL), clock_timestamp())
                ON CONFLICT (node) DO UPDATE SET advertise_url = EXCLUDED.advertise_url, heartbeat_at = EXCLUDED.heartbeat_at
                """)
        }

        /// Nodes heard from within `within`, with their addresses.
        public func liveNodes(within: Duration) async throws -> [String: String] {
            let seconds = Self.seconds(within)
            var nodes: [String: String] = [:]
            for (node, url) in try await rows(
                """
                SELECT node, advertise_url FROM cluster_nodes
                WHERE heartbeat_at > clock_timestamp() - make_interval(secs => \(seconds))
                """, { (try $0["node"].decode(String.self), try $0["advertise_url"].decode(String.self)) })
            {
                nodes[node] = url
            }
            return nodes
        }

        /// Where `node` is reached, alive or not (the keeper of a record's files).
        public func address(of node: String) async throws -> String? {
            try await rows("SELECT advertise_url FROM cluster_nodes WHERE node = \(node)") {
                try $0[0].decode(String.self)
            }.first
        }

        /// Every lease row.
        public func leases() async throws -> [CameraLease] {
            try await rows(
                """
                SELECT camera, node, generation, expires_at <= clock_timestamp() AS expired,
                       EXTRACT(EPOCH FROM expires_at - clock_timestamp())::FLOAT8 AS expires_in
                FROM camera_leases
                """,
                {
                    CameraLease(
                        camera: try $0["camera"].decode(String.self), node: try $0["node"].decode(String.self),
                        generation: try $0["generation"].decode(Int.self), expired: try $0["expired"].decode(Bool.self),
                        expiresIn: try $0["expires_in"].decode(Double.self))
                })
        }

        /// Extends this node's unexpired leases by `lease`; answers the ones
        /// still held (camera → generation). A lease that expired is not
        /// renewed: another node may be taking it.
        public func renewLeases(for lease: Duration) async throws -> [String: Int] {
            let seconds = Self.seconds(lease)
            var held: [String: Int] = [:]
            for (camera, generation) in try await rows(
                """
                UPDATE camera_leases SET expires_at = clock_timestamp() + make_interval(secs => \(seconds))
                WHERE node = \(node) AND expires_at > clock_timestamp() RETURNING camera, generation
                """, { (try $0["camera"].decode(String.self), try $0["generation"].decode(Int.self)) })
            {
                held[camera] = generation
            }
            return held
        }

        /// Takes `camera` if nobody holds an unexpired lease on it; answers the
        /// new generation, or nil when another node holds it.
        public func acquireLease(camera: String, for lease: Duration) async throws -> Int? {
            let seconds = Self.seconds(lease)
            return try await rows(
                """
                INSERT INTO camera_leases (camera, node, generation, expires_at)
                VALUES (\(camera), \(node), 1, clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (camera) DO UPDATE SET node = EXCLUDED.node, generation = camera_leases.generation + 1,
                    expires_at = EXCLUDED.expires_at
                WHERE camera_leases.expires_at <= clock_timestamp()
                RETURNING generation
                """, { try $0["generation"].decode(Int.self) }
            ).first
        }

        /// Gives `camera` up (its source already stopped here), if this node
        /// still holds it with `generation`: the lease expires now. The row
        /// stays, so the next owner's generation is higher still.
        public func releaseLease(camera: String, generation: Int) async throws {
            try await execute(
                """
                UPDATE camera_leases SET expires_at = clock_timestamp()
                WHERE camera = \(camera) AND node = \(node) AND generation = \(generation)
                """)
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
    }

    /// The cluster's messages between nodes: PostgreSQL `NOTIFY` on one channel.
    extension PostgresStore {
        static let noticeChannel = "vigil_events"
        /// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
        public static let maxNoticeBytes = 7999

        public func notify(_ payload: String) async throws {
            try await execute("SELECT pg_notify(\(Self.noticeChannel), \(payload))")
        }

        /// Listens on one pooled connection, calling `listening` once the
        /// LISTEN is in place and `received` for each payload, until the
        /// connection fails (thrown) or the task is cancelled.
        public func listen(
            listening: @Sendable () async -> Void, received: @Sendable (String) async -> Void
        ) async throws {
            try await client.withConnection { connection in
                try await connection.listen(on: Self.noticeChannel) { notifications in
                    await listening()
                    for try await notification in notifications {
                        await received(notification.payload)
                    }
                }
            }
        }
    }
#endif
