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
}
