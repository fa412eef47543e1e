/// The tables, created by numbered migrations applied in order at start.
///
/// The schema version is SQLite's `user_version`. Databases made by earlier
/// versions of Vigil (which used GRDB) record their migrations in a
/// `grdb_migrations` table instead; its identifiers are the names below, so
/// such a database carries on from where it is.
enum SQLiteSchema {
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1-camera-desired",
            """
            CREATE TABLE camera_desired (
                camera TEXT PRIMARY KEY, desired TEXT NOT NULL, updated_at DOUBLE NOT NULL)
            """
        ),
        (
            "v2-captures",
            """
            CREATE TABLE captures (
                id TEXT PRIMARY KEY, camera TEXT NOT NULL, status TEXT NOT NULL, requested_at DOUBLE NOT NULL,
                started_at DOUBLE, finished_at DOUBLE, bytes INTEGER, width INTEGER, height INTEGER,
                file TEXT, error TEXT);
            CREATE INDEX captures_on_camera ON captures(camera)
            """
        ),
        (
            "v3-sessions",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, camera TEXT, state TEXT NOT NULL, frames INTEGER NOT NULL,
                bytes INTEGER NOT NULL, created_at DOUBLE NOT NULL, updated_at DOUBLE NOT NULL, metadata TEXT,
                attachments TEXT NOT NULL, progress_stage TEXT, progress_percent DOUBLE, error TEXT);
            CREATE INDEX sessions_on_updated_at ON sessions(updated_at)
            """
        ),
        (
            "v4-motion-events",
            """
            CREATE TABLE motion_events (
                id TEXT PRIMARY KEY, camera TEXT NOT NULL, status TEXT NOT NULL, started_at DOUBLE NOT NULL,
                ended_at DOUBLE, first_frame_at DOUBLE, peak_percent DOUBLE NOT NULL, frames INTEGER NOT NULL,
                pre_frames INTEGER NOT NULL, bytes INTEGER NOT NULL, width INTEGER, height INTEGER,
                dropped_frames INTEGER NOT NULL, no_fresh_frame BOOLEAN NOT NULL, stale_gaps INTEGER NOT NULL,
                end_reason TEXT, clip TEXT, thumbnail TEXT);
            CREATE INDEX motion_events_on_started_at ON motion_events(started_at);
            CREATE INDEX motion_events_camera_started ON motion_events(camera, started_at)
            """
        ),
    ]

    static func migrate(_ database: SQLiteDatabase) throws {
        try database.write { db in
            var applied: Int = try db.row("PRAGMA user_version")?["user_version"] ?? 0
            if applied == 0,
                try db.row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations'") != nil
            {
                let done = Set(try db.rows("SELECT identifier FROM grdb_migrations").map { $0["identifier"] as String })
                applied = migrations.prefix { done.contains($0.name) }.count
            }
            for (version, migration) in migrations.enumerated().dropFirst(applied) {
                for statement in migration.sql.split(separator: ";") {
                    try db.execute(String(statement))
                }
                try db.execute("PRAGMA user_version = \(version + 1)")
            }
        }
    }
}
