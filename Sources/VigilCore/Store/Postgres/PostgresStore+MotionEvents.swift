// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import PostgresNIO
    import VigilAPI

    extension PostgresStore {
        public func saveMotionEvent(_ record: MotionEventRecord) async throws {
            try await execute(
                """
                INSERT INTO motion_events
                (id, node, camera, status, started_at, ended_at, first_frame_at, peak_percent, frames, pre_frames,
                 bytes, width, height, dropped_frames, no_fresh_frame, stale_gaps, end_reason, clip, thumbnail)
                VALUES (\(record.id), \(node), \(record.camera), \(record.status.rawValue), \(record.startedAt),
                        \(record.endedAt), \(record.firstFrameAt), \(record.peakPercent), \(record.frames),
                        \(record.preFrames), \(Int(record.bytes)), \(record.width), \(record.height),
                        \(record.droppedFrames), \(record.noFreshFrame), \(record.staleGaps), \(record.endReason),
                        \(record.clip), \(record.thumbnail))
                ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, ended_at = EXCLUDED.ended_at,
                    first_frame_at = EXCLUDED.first_frame_at, peak_percent = EXCLUDED.peak_percent,
                    frames = EXCLUDED.frames, pre_frames = EXCLUDED.pre_frames, bytes = EXCLUDED.bytes,
                    width = EXCLUDED.width, height = EXCLUDED.height, dropped_frames = EXCLUDED.dropped_frames,
                    no_fresh_frame = EXCLUDED.no_fresh_frame, stale_gaps = EXCLUDED.stale_gaps,
                    end_reason = EXCLUDED.end_reason, clip = EXCLUDED.clip, thumbnail = EXCLUDED.thumbnail
                """)
        }

        public func motionEvent(id: String) async throws -> MotionEventRecord? {
            try await rows("SELECT * FROM motion_events WHERE id = \(id)", Self.motionEvent).first
        }

        public func motionEvents(camera: String?, since: Double?, limit: Int) async throws -> [MotionEventRecord] {
            // NULL parameters match everything: one statement for the four cases.
            try await rows(
                """
                SELECT * FROM motion_events
                WHERE (\(camera)::TEXT IS NULL OR camera = \(camera)) AND (\(since)::FLOAT8 IS NULL OR started_at >= \(since))
                ORDER BY started_at DESC, id DESC LIMIT \(limit)
                """, Self.motionEvent)
        }

        public func motionEventsOfThisNode(in status: MotionEventStatus) async throws -> [MotionEventRecord] {
            try await rows(
                "SELECT * FROM motion_events WHERE node = \(node) AND status = \(status.rawValue)", Self.motionEvent)
        }

        public func finishedMotionEventsOfThisNodeOldestFirst(limit: Int) async throws -> [MotionEventRecord] {
            try await rows(
                """
                SELECT * FROM motion_events WHERE node = \(node) AND status != 'recording'
                ORDER BY started_at ASC, id ASC LIMIT \(limit)
                """, Self.motionEvent)
        }

        public func motionEventBytesOfThisNode() async throws -> Int64 {
            let totals = try await rows(
                "SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM motion_events WHERE node = \(node)"
            ) {
                try $0[0].decode(Int.self)
            }
            return Int64(totals.first ?? 0)
        }

        public func motionEventFilesOfThisNode() async throws -> Set<String> {
            var names = Set<String>()
            for (id, clip, thumbnail) in try await rows(
                "SELECT id, clip, thumbnail FROM motion_events WHERE node = \(node)",
                {
                    (
                        try $0["id"].decode(String.self), try $0["clip"].decode(String?.self),
                        try $0["thumbnail"].decode(String?.self)
                    )
                })
            {
                names.insert(id)
                if let clip { names.insert(clip) }
                if let thumbnail { names.insert(thumbnail) }
            }
            return names
        }

        public func deleteMotionEvent(id: String) async throws {
            try await execute("DELETE FROM motion_events WHERE id = \(id)")
        }

        private static func motionEvent(_ row: PostgresRandomAccessRow) throws -> MotionEventRecord {
            var record = MotionEventRecord(
                id: try row["id"].decode(String.self), camera: try row["camera"].decode(String.self),
                startedAt: try row["started_at"].decode(Double.self))
            record.status = MotionEventStatus(rawValue: try row["status"].decode(String.self)) ?? .interrupted
            record.endedAt = try row["ended_at"].decode(Double?.self)
            record.firstFrameAt = try row["first_frame_at"].decode(Double?.self)
            record.peakPercent = try row["peak_percent"].decode(Double.self)
            record.frames = try row["frames"].decode(Int.self)
            record.preFrames = try row["pre_frames"].decode(Int.self)
            record.bytes = Int64(try row["bytes"].decode(Int.self))
            record.width = try row["width"].decode(Int?.self)
            record.height = try row["height"].decode(Int?.self)
            record.droppedFrames = try row["dropped_frames"].decode(Int.self)
            record.noFreshFrame = try row["no_fresh_frame"].decode(Bool.self)
            record.staleGaps = try row["stale_gaps"].decode(Int.self)
            record.endReason = try row["end_reason"].decode(String?.self)
            record.clip = try row["clip"].decode(String?.self)
            record.thumbnail = try row["thumbnail"].decode(String?.self)
            record.node = try row["node"].decode(String.self)
            return record
        }
    }
#endif
