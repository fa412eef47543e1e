import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The default `RecordStore`: an SQLite database (WAL mode) in the data dir,
/// for one node. Its rows are all this node's.
public final class SQLiteStore: RecordStore {
    public let directory: DataDirectory
    public let node = "local"
    public var path: String { directory.database }
    let database: SQLiteDatabase

    /// Opens (and migrates) the database of `directory`, creating the dir.
    public init(directory: DataDirectory) throws {
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        self.directory = directory
        let path = directory.database
        database = try SQLiteDatabase(path: path)
        try SQLiteSchema.migrate(database)
    }

    public func desiredStates() throws -> [String: DesiredState] {
        try database.read { db in
            var states: [String: DesiredState] = [:]
            for row in try db.rows("SELECT camera, desired FROM camera_desired") {
                let raw: String = row["desired"]
                if let state = DesiredState(rawValue: raw) { states[row["camera"]] = state }
            }
            return states
        }
    }

    /// The persisted desired state of `camera`, nil if never set.
    func desired(camera: String) throws -> DesiredState? {
        try database.read { db in
            let raw: String? = try db.row("SELECT desired FROM camera_desired WHERE camera = ?", [camera])?["desired"]
            return raw.flatMap(DesiredState.init(rawValue:))
        }
    }

    public func setDesired(_ desired: DesiredState, camera: String) throws {
        try database.write { db in
            try db.execute(
                """
                INSERT INTO camera_desired (camera, desired, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(camera) DO UPDATE SET desired = excluded.desired, updated_at = excluded.updated_at
                """,
                [camera, desired.rawValue, Date().timeIntervalSince1970])
        }
    }

    /// The database closes with the last reference.
    public func close() {}

    /// One node: every file is here.
    public func address(of node: String) -> String? { nil }

    // MARK: - Captures

    public func saveCapture(_ record: CaptureRecord) throws {
        try database.write { db in
            try db.execute(
                """
                INSERT OR REPLACE INTO captures
                (id, camera, status, requested_at, started_at, finished_at, bytes, width, height, file, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    record.id, record.camera, record.status.rawValue, record.requestedAt, record.startedAt,
                    record.finishedAt, record.bytes, record.width, record.height, record.file, record.error,
                ])
        }
    }

    public func capture(id: String) throws -> CaptureRecord? {
        try database.read { db in
            try db.row("SELECT * FROM captures WHERE id = ?", [id]).map(Self.record)
        }
    }

    public func captures(camera: String?, limit: Int) throws -> [CaptureRecord] {
        try database.read { db in
            let rows: [SQLiteRow]
            if let camera {
                rows = try db.rows(
                    "SELECT * FROM captures WHERE camera = ? ORDER BY requested_at DESC LIMIT ?", [camera, limit])
            } else {
                rows = try db.rows("SELECT * FROM captures ORDER BY requested_at DESC LIMIT ?", [limit])
            }
            return rows.map(Self.record)
        }
    }

    @discardableResult
    public func failInterruptedCapturesOfThisNode(now: Double = Date().timeIntervalSince1970) throws -> Int {
        try database.write { db in
            try db.execute(
                """
                UPDATE captures SET status = 'failed', finished_at = ?, file = NULL,
                error = 'interrupted: the server stopped before the capture finished'
                WHERE status IN ('pending', 'running')
                """,
                [now])
            return db.changes
        }
    }

    private static func record(_ row: SQLiteRow) -> CaptureRecord {
        var record = CaptureRecord(id: row["id"], camera: row["camera"])
        record.status = CaptureStatus(rawValue: row["status"]) ?? .failed
        record.requestedAt = row["requested_at"]
        record.startedAt = row["started_at"]
        record.finishedAt = row["finished_at"]
        record.bytes = row["bytes"]
        record.width = row["width"]
        record.height = row["height"]
        record.file = row["file"]
        record.error = row["error"]
        return record
    }

    // MARK: - Sessions

    public func saveSession(_ record: SessionRecord) throws {
        let attachments = WireJSON.text(record.attachments)
        try database.write { db in
            try db.execute(
                """
                INSERT OR REPLACE INTO sessions
                (id, camera, state, frames, bytes, created_at, updated_at, metadata, attachments,
                 progress_stage, progress_percent, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    record.id, record.camera, record.state.rawValue, record.frames, record.bytes, record.createdAt,
                    record.updatedAt, record.metadata, attachments, record.progressStage, record.progressPercent,
                    record.error,
                ])
        }
    }

    public func session(id: String) throws -> SessionRecord? {
        try database.read { db in
            try db.row("SELECT * FROM sessions WHERE id = ?", [id]).map(Self.session)
        }
    }

    public func sessions(limit: Int) throws -> [SessionRecord] {
        try database.read { db in
            try db.rows("SELECT * FROM sessions ORDER BY updated_at DESC LIMIT ?", [limit]).map(Self.session)
        }
    }

    public func sessionsOfThisNode(in state: SessionState, updatedBefore before: Double) throws -> [SessionRecord] {
        try database.read { db in
            try db.rows("SELECT * FROM sessions WHERE state = ? AND updated_at < ?", [state.rawValue, before])
                .map(Self.session)
        }
    }

    public func deleteSession(id: String) throws {
        try database.write { db in
            try db.execute("DELETE FROM sessions WHERE id = ?", [id])
        }
    }

    private static func session(_ row: SQLiteRow) -> SessionRecord {
        var record = SessionRecord(id: row["id"], camera: row["camera"], metadata: row["metadata"])
        record.state = SessionState(rawValue: row["state"]) ?? .failed
        record.frames = row["frames"]
        record.bytes = row["bytes"]
        record.createdAt = row["created_at"]
        record.updatedAt = row["updated_at"]
        let attachments: String = row["attachments"]
        record.attachments = (try? WireJSON.decode([String].self, from: attachments)) ?? []
        record.progressStage = row["progress_stage"]
        record.progressPercent = row["progress_percent"]
        record.error = row["error"]
        return record
    }
}
