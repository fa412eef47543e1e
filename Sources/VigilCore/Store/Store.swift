import Foundation
import GRDB

/// Vigil's SQLite database (WAL mode) in the data dir.
///
/// Holds what must survive a restart: each camera's `desired` state now;
/// captures, events and sessions later. Files (images, clips) live next to it
/// and are referenced by rows.
public final class Store: Sendable {
    public let path: String
    private let pool: DatabasePool

    /// Opens (and migrates) `vigil.sqlite` in `dataDir`, creating the dir.
    public init(dataDir: String) throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        path = (dataDir as NSString).appendingPathComponent("vigil.sqlite")
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-camera-desired") { db in
            try db.create(table: "camera_desired") { t in
                t.primaryKey("camera", .text)
                t.column("desired", .text).notNull()
                t.column("updated_at", .double).notNull()
            }
        }
        migrator.registerMigration("v2-captures") { db in
            try db.create(table: "captures") { t in
                t.primaryKey("id", .text)
                t.column("camera", .text).notNull().indexed()
                t.column("status", .text).notNull()
                t.column("requested_at", .double).notNull()
                t.column("started_at", .double)
                t.column("finished_at", .double)
                t.column("bytes", .integer)
                t.column("width", .integer)
                t.column("height", .integer)
                t.column("file", .text)
                t.column("error", .text)
            }
        }
        return migrator
    }

    /// The persisted desired state of `camera`, nil if never set.
    public func desired(camera: String) throws -> DesiredState? {
        try pool.read { db in
            let raw = try String.fetchOne(
                db, sql: "SELECT desired FROM camera_desired WHERE camera = ?", arguments: [camera])
            return raw.flatMap(DesiredState.init(rawValue:))
        }
    }

    /// Persists the desired state of `camera` (durably, before returning).
    public func setDesired(_ desired: DesiredState, camera: String) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO camera_desired (camera, desired, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT(camera) DO UPDATE SET desired = excluded.desired, updated_at = excluded.updated_at
                    """,
                arguments: [camera, desired.rawValue, Date().timeIntervalSince1970])
        }
    }

    // MARK: - Captures

    /// Inserts or replaces a capture's row.
    public func saveCapture(_ record: CaptureRecord) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO captures
                    (id, camera, status, requested_at, started_at, finished_at, bytes, width, height, file, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.id, record.camera, record.status.rawValue, record.requestedAt, record.startedAt,
                    record.finishedAt, record.bytes, record.width, record.height, record.file, record.error,
                ])
        }
    }

    public func capture(id: String) throws -> CaptureRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM captures WHERE id = ?", arguments: [id]).map(Self.record)
        }
    }

    /// Captures newest first, of one camera or all.
    public func captures(camera: String?, limit: Int) throws -> [CaptureRecord] {
        try pool.read { db in
            let rows: [Row]
            if let camera {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM captures WHERE camera = ? ORDER BY requested_at DESC LIMIT ?",
                    arguments: [camera, limit])
            } else {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM captures ORDER BY requested_at DESC LIMIT ?", arguments: [limit])
            }
            return rows.map(Self.record)
        }
    }

    /// Marks captures that were waiting or running when the server stopped
    /// as failed (their files, if any, were never completed). Returns how many.
    @discardableResult
    public func failInterruptedCaptures(now: Date = Date()) throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: """
                    UPDATE captures SET status = 'failed', finished_at = ?, file = NULL,
                    error = 'interrupted: the server stopped before the capture finished'
                    WHERE status IN ('pending', 'running')
                    """,
                arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    private static func record(_ row: Row) -> CaptureRecord {
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
}
