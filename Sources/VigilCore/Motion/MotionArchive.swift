import Logging
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// The recorded motion events: files in `DATA_DIR/events` (`ID.mjpg` clip,
/// `ID.jpg` thumbnail) and their rows. A row names a file only once that
/// file is complete; retention deletes the row before the files, so a crash
/// can leave an orphan file (removed at the next start) but never a row
/// pointing at a missing or partial file.
public final class MotionArchive: Sendable {
    public let dir: String
    public let store: any RecordStore
    public let config: MotionEventsConfig
    private let logger: Logger
    /// Asks the retention task for a pass (an event ended); one pending ask is enough.
    private let pruneRequests = BoundedQueue<Void>(capacity: 1, overflow: .dropOldest)

    public init(dir: String, store: any RecordStore, config: MotionEventsConfig, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.dir = dir
        self.store = store
        self.config = config
        self.logger = logger
    }

    public func clipName(_ id: String) -> String { id + ".mjpg" }
    public func thumbnailName(_ id: String) -> String { id + ".jpg" }
    public func path(_ name: String) -> String { Path.join(dir, name) }

    /// After a crash: events that were recording keep the frames written so
    /// far (the clip cut at its last whole frame) and become `interrupted`;
    /// temporary and orphan files are removed. Returns the events recovered.
    @discardableResult
    public func recover() async throws -> Int {
        let open = try await store.motionEventsOfThisNode(in: .recording)
        for var record in open {
            let partial = AtomicFile.partialPath(for: path(clipName(record.id)))
            var clipBytes: Int64 = 0
            record.clip = nil
            if FileManager.default.fileExists(atPath: partial) {
                do {
                    let scan = try ClipReader.scan(path: partial)
                    if scan.frames > 0, truncate(partial, off_t(scan.validBytes)) == 0 {
                        try AtomicFile.commit(partial: partial, to: path(clipName(record.id)))
                        record.clip = clipName(record.id)
                        clipBytes = scan.validBytes
                        record.frames = scan.frames
                        record.firstFrameAt = scan.first
                        record.endedAt = scan.last
                    } else {
                        record.frames = 0
                    }
                } catch {
                    logger.error("event \(record.id): cannot recover its clip: \(error)")
                    record.frames = 0
                }
            } else {
                record.frames = 0
            }
            if record.clip == nil { record.preFrames = 0 }
            if let thumbnail = record.thumbnail, let size = fileSize(path(thumbnail)) {
                clipBytes += size
            } else {
                record.thumbnail = nil
            }
            record.bytes = clipBytes
            record.status = .interrupted
            record.endReason = "interrupted"
            if record.endedAt == nil { record.endedAt = record.startedAt }
            try await store.saveMotionEvent(record)
            logger.warning(
                "event \(record.id) (camera \(record.camera)) was recording when the server stopped: kept \(record.frames) frames"
            )
        }
        var removed = AtomicFile.removeLeftovers(in: dir)
        let known = try await store.motionEventFilesOfThisNode()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !known.contains(name) {
            if unlink(path(name)) == 0 { removed += 1 }
        }
        if removed > 0 { logger.notice("events dir: removed \(removed) temporary or orphan files") }
        return open.count
    }

    /// Deletes events older than `max_age_days`, then the oldest until the
    /// events take at most `max_bytes`. Events still recording are kept.
    /// Runs on the retention task (`runRetention`); tests call it directly.
    /// Returns the events deleted.
    /// Retention, the only place that prunes: at start, after every event
    /// (`requestPrune`), and at least hourly, until cancelled.
    public func runRetention() async {
        while !Task.isCancelled {
            await prune()
            let woken = await withTimeout(.seconds(3600)) { await self.pruneRequests.next() }
            if case .cancelled = woken { return }
        }
    }

    /// An event has ended: the retention task prunes soon.
    public func requestPrune() {
        pruneRequests.push(())
    }

    @discardableResult
    public func prune(now: Date = Date()) async -> Int {
        var deleted = 0
        do {
            if config.maxAgeDays > 0 {
                let cutoff = now.timeIntervalSince1970 - config.maxAgeDays * 86400
                while true {
                    let batch = try await store.finishedMotionEventsOfThisNodeOldestFirst(limit: 100).filter {
                        $0.startedAt < cutoff
                    }
                    if batch.isEmpty { break }
                    for record in batch { try await delete(record) }
                    deleted += batch.count
                }
            }
            var total = try await store.motionEventBytesOfThisNode()
            while total > config.maxBytes {
                let batch = try await store.finishedMotionEventsOfThisNodeOldestFirst(limit: 50)
                if batch.isEmpty { break }
                for record in batch where total > config.maxBytes {
                    try await delete(record)
                    total -= record.bytes
                    deleted += 1
                }
            }
        } catch {
            logger.error("event retention failed: \(error)")
        }
        if deleted > 0 {
            logger.info(
                "retention: deleted \(deleted) events (max_age_days \(config.maxAgeDays), max_bytes \(config.maxBytes))"
            )
        }
        return deleted
    }

    /// Deletes an event: the row first, then its files.
    public func delete(_ record: MotionEventRecord) async throws {
        try await store.deleteMotionEvent(id: record.id)
        for name in [record.clip, record.thumbnail].compactMap({ $0 }) {
            unlink(path(name))
        }
    }

    func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }
}
