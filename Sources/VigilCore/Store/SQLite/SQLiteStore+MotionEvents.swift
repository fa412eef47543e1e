import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

extension SQLiteStore {
    public func saveMotionEvent(_ record: MotionEventRecord) throws {
        try database.write { db in
            try db.execute(
                """
                INSERT OR REPLACE INTO motion_events
                (id, camera, status, started_at, ended_at, first_frame_at, peak_percent, frames, pre_frames,
                 bytes, width, height, dropped_frames, no_fresh_frame, stale_gaps, end_reason, clip, thumbnail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    record.id, record.camera, record.status.rawValue, record.startedAt, record.endedAt,
                    record.firstFrameAt, record.peakPercent, record.frames, record.preFrames, record.bytes,
                    record.width, record.height, record.droppedFrames, record.noFreshFrame, record.staleGaps,
                    record.endReason, record.clip, record.thumbnail,
                ])
        }
    }

    public func motionEvent(id: String) throws -> MotionEventRecord? {
        try database.read { db in
            try db.row("SELECT * FROM motion_events WHERE id = ?", [id]).map(Self.motionEvent)
        }
    }

    public func motionEvents(camera: String?, since: Double?, limit: Int) throws -> [MotionEventRecord] {
        try database.read { db in
            var sql = "SELECT * FROM motion_events WHERE 1"
            var arguments: [any SQLiteBindable] = []
            if let camera {
                sql += " AND camera = ?"
                arguments.append(camera)
            }
            if let since {
                sql += " AND started_at >= ?"
                arguments.append(since)
            }
            sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
            arguments.append(limit)
            return try db.rows(sql, arguments).map(Self.motionEvent)
        }
    }

    public func motionEventsOfThisNode(in status: MotionEventStatus) throws -> [MotionEventRecord] {
        try database.read { db in
            try db.rows("SELECT * FROM motion_events WHERE status = ?", [status.rawValue]).map(Self.motionEvent)
        }
    }

    public func finishedMotionEventsOfThisNodeOldestFirst(limit: Int) throws -> [MotionEventRecord] {
        try database.read { db in
            try db.rows(
                "SELECT * FROM motion_events WHERE status != 'recording' ORDER BY started_at ASC, id ASC LIMIT ?",
                [limit]
            ).map(Self.motionEvent)
        }
    }

    public func motionEventBytesOfThisNode() throws -> Int64 {
        try database.read { db in
            try db.row("SELECT COALESCE(SUM(bytes), 0) AS total FROM motion_events")?["total"] ?? 0
        }
    }

    public func motionEventFilesOfThisNode() throws -> Set<String> {
        try database.read { db in
            var names = Set<String>()
            for row in try db.rows("SELECT id, clip, thumbnail FROM motion_events") {
                let id: String = row["id"]
                names.insert(id)
                if let clip: String = row["clip"] { names.insert(clip) }
                if let thumbnail: String = row["thumbnail"] { names.insert(thumbnail) }
            }
            return names
        }
    }

    public func deleteMotionEvent(id: String) throws {
        try database.write { db in
            try db.execute("DELETE FROM motion_events WHERE id = ?", [id])
        }
    }

    private static func motionEvent(_ row: SQLiteRow) -> MotionEventRecord {
        var record = MotionEventRecord(id: row["id"], camera: row["camera"], startedAt: row["started_at"])
        record.status = MotionEventStatus(rawValue: row["status"]) ?? .interrupted
        record.endedAt = row["ended_at"]
        record.firstFrameAt = row["first_frame_at"]
        record.peakPercent = row["peak_percent"]
        record.frames = row["frames"]
        record.preFrames = row["pre_frames"]
        record.bytes = row["bytes"]
        record.width = row["width"]
        record.height = row["height"]
        record.droppedFrames = row["dropped_frames"]
        record.noFreshFrame = row["no_fresh_frame"]
        record.staleGaps = row["stale_gaps"]
        record.endReason = row["end_reason"]
        record.clip = row["clip"]
        record.thumbnail = row["thumbnail"]
        return record
    }
}
