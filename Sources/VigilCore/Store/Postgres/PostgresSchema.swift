// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import Logging
    import PostgresNIO

    /// The PostgreSQL tables, created by numbered migrations applied at start.
    ///
    /// Several nodes may start at once against an empty database: each applies
    /// the migrations inside one transaction holding an advisory lock, so one
    /// node creates the tables and the others find them done.
    ///
    /// Times are seconds since 1970 (`DOUBLE PRECISION`) as in the SQLite
    /// store; the cluster's own clock (leases, heartbeats) is the database's
    /// `clock_timestamp()`, so nodes with skewed clocks still agree.
    enum PostgresSchema {
        /// Any number; the lock only has to be the same on every node.
        static let migrationLock = 0x7669_6769_6c00  // "vigil"

        static let migrations: [String] = [
            """
            CREATE TABLE camera_desired (
                camera TEXT PRIMARY KEY, desired TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
            CREATE TABLE captures (
                id TEXT PRIMARY KEY, node TEXT NOT NULL, camera TEXT NOT NULL, status TEXT NOT NULL,
                requested_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION,
                bytes BIGINT, width BIGINT, height BIGINT, file TEXT, error TEXT);
            CREATE INDEX captures_on_requested_at ON captures(requested_at);
            CREATE INDEX captures_on_camera ON captures(camera, requested_at);
            CREATE INDEX captures_on_node_status ON captures(node, status);
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, node TEXT NOT NULL, camera TEXT, state TEXT NOT NULL, frames BIGINT NOT NULL,
                bytes BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
                metadata TEXT, attachments TEXT NOT NULL, progress_stage TEXT, progress_percent DOUBLE PRECISION,
                error TEXT);
            CREATE INDEX sessions_on_updated_at ON sessions(updated_at);
            CREATE INDEX sessions_on_node_state ON sessions(node, state, updated_at);
            CREATE TABLE motion_events (
                id TEXT PRIMARY KEY, node TEXT NOT NULL, camera TEXT NOT NULL, status TEXT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL, ended_at DOUBLE PRECISION, first_frame_at DOUBLE PRECISION,
                peak_percent DOUBLE PRECISION NOT NULL, frames BIGINT NOT NULL, pre_frames BIGINT NOT NULL,
                bytes BIGINT NOT NULL, width BIGINT, height BIGINT, dropped_frames BIGINT NOT NULL,
                no_fresh_frame BOOLEAN NOT NULL, stale_gaps BIGINT NOT NULL, end_reason TEXT, clip TEXT,
                thumbnail TEXT);
            CREATE INDEX motion_events_on_started_at ON motion_events(started_at, id);
            CREATE INDEX motion_events_camera_started ON motion_events(camera, started_at);
            CREATE INDEX motion_events_node_status ON motion_events(node, status, started_at);
            CREATE TABLE cluster_nodes (
                node TEXT PRIMARY KEY, advertise_url TEXT NOT NULL, heartbeat_at TIMESTAMPTZ NOT NULL);
            CREATE TABLE camera_leases (
                camera TEXT PRIMARY KEY, node TEXT NOT NULL, generation BIGINT NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL)
            """
        ]

        /// Applies the migrations this database has not had yet.
        static func migrate(_ client: PostgresClient, logger: Logger) async throws {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS vigil_schema (version BIGINT NOT NULL)", logger: logger)
                var applied = 0
                for try await version in try await connection.query(
                    "SELECT COALESCE(MAX(version), 0) FROM vigil_schema", logger: logger
                ).decode(Int.self) {
                    applied = version
                }
                guard applied <= migrations.count else {
                    throw PostgresStoreError(
                        "the database has schema version \(applied), newer than this Vigil knows (\(migrations.count)); upgrade Vigil"
                    )
                }
                for (index, migration) in migrations.enumerated().dropFirst(applied) {
                    for statement in migration.split(separator: ";") {
                        try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO vigil_schema (version) VALUES (\(index + 1))", logger: logger)
                    logger.notice("store: applied schema migration \(index + 1)")
                }
            }
        }
    }

    /// A store failure with a message for the log and the API.
    struct PostgresStoreError: Error, CustomStringConvertible {
        let description: String

        init(_ description: String) {
            self.description = description
        }
    }
#endif
