import Foundation
import GRDB

/// Vigil's SQLite database (WAL mode) in the data dir.
///
/// Holds what must survive a restart: each camera's `desired` state now;
/// captures, events and sessions later. Files (images, clips) live next to it
/// and are referenced by rows.
public final class Store: Sendable {
    public let path: String
    let pool: DatabasePool

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
        migrator.registerMigration("v3-sessions") { db in
            try db.create(table: "sessions") { t in
                t.primaryKey("id", .text)
                t.column("camera", .text)
                t.column("state", .text).notNull()
                t.column("frames", .integer).notNull()
                t.column("bytes", .integer).notNull()
                t.column("created_at", .double).notNull()
                t.column("updated_at", .double).notNull().indexed()
                t.column("metadata", .text)
                t.column("attachments", .text).notNull()
                t.column("progress_stage", .text)
                t.column("progress_percent", .double)
                t.column("error", .text)
            }
        }
        migrator.registerMigration("v4-motion-events") { db in
            try db.create(table: "motion_events") { t in
                t.primaryKey("id", .text)
                t.column("camera", .text).notNull()
                t.column("status", .text).notNull()
                t.column("started_at", .double).notNull().indexed()
                t.column("ended_at", .double)
                t.column("first_frame_at", .double)
                t.column("peak_percent", .double).notNull()
                t.column("frames", .integer).notNull()
                t.column("pre_frames", .integer).notNull()
                t.column("bytes", .integer).notNull()
                t.column("width", .integer)
                t.column("height", .integer)
                t.column("dropped_frames", .integer).notNull()
                t.column("no_fresh_frame", .boolean).notNull()
                t.column("stale_gaps", .integer).notNull()
                t.column("end_reason", .text)
                t.column("clip", .text)
                t.column("thumbnail", .text)
            }
            try db.create(
                index: "motion_events_camera_started", on: "motion_events", columns: ["camera", "started_at"])
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

    // MARK: - Sessions

    public func saveSession(_ record: SessionRecord) throws {
        let attachments = String(
            decoding: (try? JSONSerialization.data(withJSONObject: record.attachments)) ?? Data("[]".utf8),
            as: UTF8.self)
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO sessions
                    (id, camera, state, frames, bytes, created_at, updated_at, metadata, attachments,
                     progress_stage, progress_percent, error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.id, record.camera, record.state.rawValue, record.frames, record.bytes, record.createdAt,
                    record.updatedAt, record.metadata, attachments, record.progressStage, record.progressPercent,
                    record.error,
                ])
        }
    }

    public func session(id: String) throws -> SessionRecord? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(Self.session)
        }
    }

    /// Sessions, most recently updated first.
    public func sessions(limit: Int) throws -> [SessionRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sessions ORDER BY updated_at DESC LIMIT ?", arguments: [limit])
                .map(Self.session)
        }
    }

    /// Sessions in `state` last updated before `before` (seconds since 1970).
    public func sessions(in state: SessionState, updatedBefore before: Double) throws -> [SessionRecord] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM sessions WHERE state = ? AND updated_at < ?",
                arguments: [state.rawValue, before]
            ).map(Self.session)
        }
    }

    public func deleteSession(id: String) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
        }
    }

    private static func session(_ row: Row) -> SessionRecord {
        var record = SessionRecord(id: row["id"], camera: row["camera"], metadata: row["metadata"])
        record.state = SessionState(rawValue: row["state"]) ?? .failed
        record.frames = row["frames"]
        record.bytes = row["bytes"]
        record.createdAt = row["created_at"]
        record.updatedAt = row["updated_at"]
        let attachments: String = row["attachments"]
        record.attachments =
            ((try? JSONSerialization.jsonObject(with: Data(attachments.utf8))) as? [String]) ?? []
        record.progressStage = row["progress_stage"]
        record.progressPercent = row["progress_percent"]
        record.error = row["error"]
        return record
    }
}
