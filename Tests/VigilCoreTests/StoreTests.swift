import Foundation
import Testing

@testable import VigilCore

/// The SQLite store: its schema, its migrations, and databases that earlier
/// versions of Vigil made with GRDB.
struct StoreTests {
    func makeDir() throws -> String {
        let dir = NSTemporaryDirectory() + "vigil-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func aNewStoreKeepsRowsAcrossReopening() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var capture = CaptureRecord(id: "c1", camera: "porch")
        capture.status = .done
        capture.bytes = 1234
        capture.file = "c1.jpg"
        do {
            let store = try SQLiteStore(directory: DataDirectory(dir))
            try store.setDesired(.stopped, camera: "porch")
            try store.saveCapture(capture)
        }
        let store = try SQLiteStore(directory: DataDirectory(dir))
        #expect(try store.desired(camera: "porch") == .stopped)
        #expect(try store.desired(camera: "garden") == nil)
        let read = try #require(try store.capture(id: "c1"))
        #expect(read.status == .done && read.bytes == 1234 && read.file == "c1.jpg" && read.width == nil)
        #expect(try store.captures(camera: "porch", limit: 10).map(\.id) == ["c1"])
        let version: Int? = try store.database.read { try $0.row("PRAGMA user_version")?["user_version"] }
        #expect(version == SQLiteSchema.migrations.count)
    }

    @Test func aDatabaseMadeByGRDBCarriesOn() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The tables as the earlier versions made them, and GRDB's record of it.
        do {
            let database = try SQLiteDatabase(path: dir + "/vigil.sqlite")
            try database.write { db in
                try db.execute("CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for migration in SQLiteSchema.migrations {
                    for statement in migration.sql.split(separator: ";") { try db.execute(String(statement)) }
                    try db.execute("INSERT INTO grdb_migrations VALUES (?)", [migration.name])
                }
                try db.execute(
                    "INSERT INTO captures (id, camera, status, requested_at) VALUES ('old', 'porch', 'done', 1.5)")
                try db.execute("INSERT INTO camera_desired VALUES ('porch', 'stopped', 1.5)")
            }
        }
        let store = try SQLiteStore(directory: DataDirectory(dir))
        #expect(try store.capture(id: "old")?.status == .done)
        #expect(try store.desired(camera: "porch") == .stopped)
        try store.saveCapture(CaptureRecord(id: "new", camera: "porch"))
        #expect(try store.captures(camera: nil, limit: 10).count == 2)
    }

    @Test func sqlErrorsSayWhatAndWhere() throws {
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteStore(directory: DataDirectory(dir))
        let error = try #require(throws: SQLiteError.self) {
            try store.database.write { try $0.execute("INSERT INTO nowhere VALUES (1)") }
        }
        #expect(error.description.contains("no such table: nowhere"))
        #expect(!error.isDiskFull && !StorageFull.isCause(of: error))
        // The failed write was rolled back; the store goes on.
        try store.setDesired(.running, camera: "porch")
        #expect(try store.desired(camera: "porch") == .running)
    }
}
