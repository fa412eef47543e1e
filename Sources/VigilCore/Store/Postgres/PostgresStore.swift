// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import Logging
    import NIOSSL
    import PostgresNIO
    import VigilAPI

    #if canImport(FoundationEssentials)
        import FoundationEssentials
    #else
        import Foundation
    #endif

    /// The `RecordStore` of a cluster: PostgreSQL through postgres-nio's pooled
    /// client (`store: {kind: postgres, url: …}`). Every query is parameterised
    /// (the extended protocol: prepared by the server, values never spliced into
    /// SQL). Rows carry the node that wrote them; the files they name stay in
    /// that node's data dir.
    public final class PostgresStore: RecordStore {
        public let directory: DataDirectory
        public let node: String
        let client: PostgresClient
        let logger: Logger
        private let runner: Task<Void, Never>

        /// Connects (waiting up to `startupTimeout` for the server to come up,
        /// e.g. when both start at boot) and applies the migrations.
        public static func open(
            address: PostgresAddress, node: String, directory: DataDirectory, logger: Logger,
            startupTimeout: Duration = .seconds(30)
        ) async throws -> PostgresStore {
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
            let store = PostgresStore(address: address, node: node, directory: directory, logger: logger)
            let deadline = ContinuousClock.now + startupTimeout
            while true {
                do {
                    try await PostgresSchema.migrate(store.client, logger: logger)
                    logger.info("store: PostgreSQL at \(address), node \(node)")
                    return store
                } catch {
                    guard ContinuousClock.now < deadline, !Task.isCancelled else {
                        store.close()
                        throw PostgresStoreError("cannot open the store at \(address): \(String(reflecting: error))")
                    }
                    logger.warning("store: \(address) not ready (\(error)); retrying")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }

        private init(address: PostgresAddress, node: String, directory: DataDirectory, logger: Logger) {
            var configuration = PostgresClient.Configuration(
                host: address.host, port: address.port, username: address.username, password: address.password,
                database: address.database, tls: Self.tls(address.tls))
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.maximumConnections = 8
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            self.client = client
            self.directory = directory
            self.node = node
            self.logger = logger
            runner = Task { await client.run() }
        }

        private static func tls(_ mode: PostgresAddress.TLSMode) -> PostgresClient.Configuration.TLS {
            switch mode {
            case .disable: return .disable
            case .prefer: return .prefer(.makeClientConfiguration())
            case .require: return .require(.makeClientConfiguration())
            }
        }

        /// Closes the pool (after the last write of the shutdown).
        public func close() {
            runner.cancel()
        }

        /// The rows of `query`, each read through `decode`.
        func rows<Value>(_ query: PostgresQuery, _ decode: (PostgresRandomAccessRow) throws -> Value) async throws
            -> [Value]
        {
            try await retryingWhileUnreachable {
                var values: [Value] = []
                for try await row in try await client.query(query, logger: logger) {
                    values.append(try decode(row.makeRandomAccess()))
                }
                return values
            }
        }

        func execute(_ query: PostgresQuery) async throws {
            try await retryingWhileUnreachable { try await client.query(query, logger: logger) }
        }

        /// Runs `work` again while the failure is the server's absence (a
        /// restart, a lost connection), for up to `patience`: a restarted
        /// PostgreSQL loses no record. Every write is an upsert or an update by
        /// key, so a write repeated after a commit whose answer was lost is
        /// harmless. While there is no connection at all the pool itself waits
        /// (its requests wait for a connection; cancelling the task ends them).
        func retryingWhileUnreachable<Value>(
            patience: Duration = .seconds(60), _ work: () async throws -> Value
        ) async throws -> Value {
            let deadline = ContinuousClock.now + patience
            var announced = false
            while true {
                do {
                    let value = try await work()
                    if announced { logger.notice("store: PostgreSQL answers again") }
                    return value
                } catch let error as PSQLError where Self.isUnreachable(error) {
                    guard ContinuousClock.now < deadline, !Task.isCancelled else { throw error }
                    if !announced {
                        announced = true
                        logger.warning("store: PostgreSQL unreachable (\(error.code)); retrying for up to \(patience)")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }

        /// A lost connection, or a server shutting down or starting up
        /// (SQLSTATE classes 08 and 57), not a refused statement.
        static func isUnreachable(_ error: PSQLError) -> Bool {
            switch error.code {
            case .serverClosedConnection, .connectionError, .uncleanShutdown: return true
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57")
            default: return false
            }
        }

        // MARK: - Desired state

        public func desiredStates() async throws -> [String: DesiredState] {
            var states: [String: DesiredState] = [:]
            for (camera, raw) in try await rows(
                "SELECT camera, desired FROM camera_desired",
                {
                    (try $0["camera"].decode(String.self), try $0["desired"].decode(String.self))
                })
            {
                if let state = DesiredState(rawValue: raw) { states[camera] = state }
            }
            return states
        }

        public func setDesired(_ desired: DesiredState, camera: String) async throws {
            try await execute(
                """
                INSERT INTO camera_desired (camera, desired, updated_at) VALUES (\(camera), \(desired.rawValue), \(Date().timeIntervalSince1970))
                ON CONFLICT (camera) DO UPDATE SET desired = EXCLUDED.desired, updated_at = EXCLUDED.updated_at
                """)
        }

        // MARK: - Captures

        public func saveCapture(_ record: CaptureRecord) async throws {
            try await execute(
                """
                INSERT INTO captures
                (id, node, camera, status, requested_at, started_at, finished_at, bytes, width, height, file, error)
                VALUES (\(record.id), \(node), \(record.camera), \(record.status.rawValue), \(record.requestedAt),
                        \(record.startedAt), \(record.finishedAt), \(record.bytes), \(record.width), \(record.height),
                        \(record.file), \(record.error))
                ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, started_at = EXCLUDED.started_at,
                    finished_at = EXCLUDED.finished_at, bytes = EXCLUDED.bytes, width = EXCLUDED.width,
                    height = EXCLUDED.height, file = EXCLUDED.file, error = EXCLUDED.error
                """)
        }

        public func capture(id: String) async throws -> CaptureRecord? {
            try await rows("SELECT * FROM captures WHERE id = \(id)", Self.capture).first
        }

        public func captures(camera: String?, limit: Int) async throws -> [CaptureRecord] {
            if let camera {
                return try await rows(
                    "SELECT * FROM captures WHERE camera = \(camera) ORDER BY requested_at DESC LIMIT \(limit)",
                    Self.capture)
            }
            return try await rows("SELECT * FROM captures ORDER BY requested_at DESC LIMIT \(limit)", Self.capture)
        }

        public func failInterruptedCapturesOfThisNode(now: Double) async throws -> Int {
            try await rows(
                """
                UPDATE captures SET status = 'failed', finished_at = \(now), file = NULL,
                error = 'interrupted: the server stopped before the capture finished'
                WHERE node = \(node) AND status IN ('pending', 'running') RETURNING id
                """, { _ in () }
            ).count
        }

        static func capture(_ row: PostgresRandomAccessRow) throws -> CaptureRecord {
            var record = CaptureRecord(
                id: try row["id"].decode(String.self), camera: try row["camera"].decode(String.self))
            record.status = CaptureStatus(rawValue: try row["status"].decode(String.self)) ?? .failed
            record.requestedAt = try row["requested_at"].decode(Double.self)
            record.startedAt = try row["started_at"].decode(Double?.self)
            record.finishedAt = try row["finished_at"].decode(Double?.self)
            record.bytes = try row["bytes"].decode(Int?.self)
            record.width = try row["width"].decode(Int?.self)
            record.height = try row["height"].decode(Int?.self)
            record.file = try row["file"].decode(String?.self)
            record.error = try row["error"].decode(String?.self)
            record.node = try row["node"].decode(String.self)
            return record
        }

        // MARK: - Sessions

        public func saveSession(_ record: SessionRecord) async throws {
            let attachments = WireJSON.text(record.attachments)
            try await execute(
                """
                INSERT INTO sessions
                (id, node, camera, state, frames, bytes, created_at, updated_at, metadata, attachments,
                 progress_stage, progress_percent, error)
                VALUES (\(record.id), \(node), \(record.camera), \(record.state.rawValue), \(record.frames),
                        \(record.bytes), \(record.createdAt), \(record.updatedAt), \(record.metadata), \(attachments),
                        \(record.progressStage), \(record.progressPercent), \(record.error))
                ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, camera = EXCLUDED.camera, state = EXCLUDED.state,
                    frames = EXCLUDED.frames, bytes = EXCLUDED.bytes, updated_at = EXCLUDED.updated_at,
                    metadata = EXCLUDED.metadata, attachments = EXCLUDED.attachments,
                    progress_stage = EXCLUDED.progress_stage, progress_percent = EXCLUDED.progress_percent,
                    error = EXCLUDED.error
                """)
        }

        public func session(id: String) async throws -> SessionRecord? {
            try await rows("SELECT * FROM sessions WHERE id = \(id)", Self.session).first
        }

        public func sessions(limit: Int) async throws -> [SessionRecord] {
            try await rows("SELECT * FROM sessions ORDER BY updated_at DESC LIMIT \(limit)", Self.session)
        }

        public func sessionsOfThisNode(in state: SessionState, updatedBefore before: Double) async throws
            -> [SessionRecord]
        {
            // `.infinity` means every one; PostgreSQL compares with 'Infinity' as expected.
            try await rows(
                "SELECT * FROM sessions WHERE node = \(node) AND state = \(state.rawValue) AND updated_at < \(before)",
                Self.session)
        }

        public func deleteSession(id: String) async throws {
            try await execute("DELETE FROM sessions WHERE id = \(id)")
        }

        private static func session(_ row: PostgresRandomAccessRow) throws -> SessionRecord {
            var record = SessionRecord(
                id: try row["id"].decode(String.self), camera: try row["camera"].decode(String?.self),
                metadata: try row["metadata"].decode(String?.self))
            record.state = SessionState(rawValue: try row["state"].decode(String.self)) ?? .failed
            record.frames = try row["frames"].decode(Int.self)
            record.bytes = Int64(try row["bytes"].decode(Int.self))
            record.createdAt = try row["created_at"].decode(Double.self)
            record.updatedAt = try row["updated_at"].decode(Double.self)
            let attachments = try row["attachments"].decode(String.self)
            record.attachments = (try? WireJSON.decode([String].self, from: attachments)) ?? []
            record.progressStage = try row["progress_stage"].decode(String?.self)
            record.progressPercent = try row["progress_percent"].decode(Double?.self)
            record.error = try row["error"].decode(String?.self)
            return record
        }
    }
#endif
