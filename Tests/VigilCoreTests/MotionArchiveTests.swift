import Foundation
import NIOCore
import Testing
import VigilAPI
import VigilCore

/// Retention and crash recovery of recorded events, on a real SQLite file
/// and real files in a temp dir.
@Suite struct MotionArchiveTests {
    final class Rig {
        let dir = NSTemporaryDirectory() + "vigil-archive-\(UUID().uuidString)"
        let store: SQLiteStore
        let archive: MotionArchive

        init(_ config: MotionEventsConfig = MotionEventsConfig()) throws {
            store = try SQLiteStore(directory: DataDirectory(dir))
            archive = try MotionArchive(
                dir: dir + "/events", store: store, config: config, logger: .init(label: "test"))
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        /// A finished event with a clip of `frames` frames and a thumbnail.
        @discardableResult
        func event(startedAt: Double, frames: Int = 3) throws -> MotionEventRecord {
            let id = Identifier.newRecordID(now: Date(timeIntervalSince1970: startedAt))
            var record = MotionEventRecord(id: id, camera: "cam", startedAt: startedAt)
            let clip = try ClipWriter(path: archive.path(archive.clipName(id)))
            for i in 0..<frames { try clip.append(Self.frame(i, wall: startedAt + Double(i))) }
            try clip.finish()
            let jpeg = Self.frame(0, wall: startedAt).jpeg
            try jpeg.withUnsafeReadableBytes { try AtomicFile.write($0, to: archive.path(archive.thumbnailName(id))) }
            record.status = .complete
            record.frames = frames
            record.clip = archive.clipName(id)
            record.thumbnail = archive.thumbnailName(id)
            record.bytes = clip.bytes + Int64(jpeg.readableBytes)
            record.endedAt = startedAt + Double(frames - 1)
            try store.saveMotionEvent(record)
            return record
        }

        static func frame(_ i: Int, wall: Double) -> Frame {
            var canvas = RGBCanvas(width: 64, height: 48, fill: (UInt8(i * 20 % 256), 90, 90))
            canvas.fillRect(x: i % 50, y: 10, width: 8, height: 8, color: (250, 250, 250))
            let jpeg = try! JPEGEncoder(quality: 80).encode(canvas)
            return Frame(
                camera: "cam", seq: UInt64(i + 1), jpeg: jpeg.buffer, width: 64, height: 48, wallTime: wall)
        }

        func exists(_ name: String?) -> Bool {
            guard let name else { return false }
            return FileManager.default.fileExists(atPath: archive.path(name))
        }
    }

    @Test func retentionDeletesByAgeThenOldestFirstByBytesFilesAndRowsTogether() async throws {
        var config = MotionEventsConfig()
        config.maxAgeDays = 10
        let now = Date()
        let day = 86400.0
        // Bytes per event are about the same; keep room for about three.
        let probe = try Rig()
        let size = try probe.event(startedAt: now.timeIntervalSince1970).bytes
        config.maxBytes = size * 3 + size / 2
        let rig = try Rig(config)
        let old = try rig.event(startedAt: now.timeIntervalSince1970 - 11 * day)
        var recent: [MotionEventRecord] = []
        for hoursAgo in [50.0, 40, 30, 20, 10] {
            recent.append(try rig.event(startedAt: now.timeIntervalSince1970 - hoursAgo * 3600))
        }
        var recording = MotionEventRecord(
            id: Identifier.newRecordID(), camera: "cam", startedAt: now.timeIntervalSince1970 - 60 * day)
        recording.status = .recording
        try rig.store.saveMotionEvent(recording)

        #expect(await rig.archive.prune(now: now) == 3, "one too old, then the two oldest for bytes")
        let left = try rig.store.motionEvents(camera: nil, since: nil, limit: 100)
        #expect(Set(left.map(\.id)) == Set(recent.suffix(3).map(\.id) + [recording.id]))
        #expect(try rig.store.motionEventBytesOfThisNode() <= config.maxBytes)
        for gone in [old] + recent.prefix(2) {
            #expect(!rig.exists(gone.clip) && !rig.exists(gone.thumbnail), "files of \(gone.id) deleted")
        }
        for kept in recent.suffix(3) {
            #expect(rig.exists(kept.clip) && rig.exists(kept.thumbnail))
        }
        #expect(await rig.archive.prune(now: now) == 0, "nothing more to delete")
    }

    @Test func recoveryKeepsTheWholeFramesOfAnInterruptedClipAndRemovesOrphans() async throws {
        let rig = try Rig()
        let id = Identifier.newRecordID()
        var record = MotionEventRecord(id: id, camera: "cam", startedAt: 1_000)
        record.thumbnail = rig.archive.thumbnailName(id)
        try Rig.frame(0, wall: 1_000).jpeg.withUnsafeReadableBytes {
            try AtomicFile.write($0, to: rig.archive.path(rig.archive.thumbnailName(id)))
        }
        try rig.store.saveMotionEvent(record)
        // The clip as a crash leaves it: five whole frames, then half of one.
        let clip = try ClipWriter(path: rig.archive.path(rig.archive.clipName(id)))
        for i in 0..<5 { try clip.append(Rig.frame(i, wall: 1_000 + Double(i))) }
        let torn = Rig.frame(5, wall: 1_005).mjpegPart
        let handle = try #require(FileHandle(forWritingAtPath: clip.partialPath))
        handle.seekToEndOfFile()
        handle.write(Data(torn.readableBytesView.prefix(torn.readableBytes / 2)))
        try handle.close()
        // An event without any frame written, and an orphan file.
        var empty = MotionEventRecord(id: Identifier.newRecordID(), camera: "cam", startedAt: 2_000)
        empty.status = .recording
        try rig.store.saveMotionEvent(empty)
        _ = FileManager.default.createFile(atPath: rig.archive.path("zzzz-orphan.mjpg"), contents: Data("x".utf8))

        #expect(try await rig.archive.recover() == 2)
        let recovered = try #require(try rig.store.motionEvent(id: id))
        #expect(recovered.status == .interrupted && recovered.endReason == "interrupted")
        #expect(recovered.frames == 5)
        #expect(recovered.endedAt == 1_004)
        let scan = try ClipReader.scan(path: rig.archive.path(try #require(recovered.clip)))
        #expect(scan.frames == 5)
        let size = try FileManager.default.attributesOfItem(atPath: rig.archive.path(recovered.clip!))[.size] as! Int
        #expect(Int64(size) == scan.validBytes, "cut at the last whole frame")
        #expect(rig.exists(recovered.thumbnail))
        let none = try #require(try rig.store.motionEvent(id: empty.id))
        #expect(none.status == .interrupted && none.frames == 0 && none.clip == nil)
        let names = try FileManager.default.contentsOfDirectory(atPath: rig.archive.dir)
        #expect(Set(names) == [rig.archive.clipName(id), rig.archive.thumbnailName(id)], "no partial, no orphan")
    }
}
