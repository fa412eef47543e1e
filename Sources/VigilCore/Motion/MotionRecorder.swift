import Logging
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs the hooks of motion events (`on_event_start`, `on_event_end`)
/// without ever blocking the caller: implementations queue (bounded) and return.
public protocol MotionHookRunner: Sendable {
    func run(_ hook: HookConfig, name: String, payload: String)
}

/// The recording half of motion detection: takes what the event rules
/// decided (`MotionMonitor`), in order, from a bounded queue and writes each
/// event's clip, thumbnail and row, then tells the events socket and the
/// hooks. One writer task (`run`) per camera.
final class MotionRecorder: Sendable {
    enum Item: Sendable {
        case begin(MotionEventRecord, thumbnail: Frame?)
        case frame(Frame, pre: Bool)
        case end(EndInfo)
    }

    struct EndInfo {
        var reason: String
        var peakPercent: Double
        var best: Frame?
        var staleGaps: Int
        var droppedFrames: Int
        var endedAt: Double
    }

    /// Items waiting for the writer, at most (the byte bound usually comes first).
    static let maxQueuedItems = 65_536

    /// What the writer has to do, in order; live frames bounded by
    /// `write_queue_max_bytes` (beyond it they are refused and counted).
    let items: BoundedQueue<Item>
    private let camera: String
    private let config: MotionConfig
    private let archive: MotionArchive
    private let feed: ChangeFeed
    private let hooks: (any MotionHookRunner)?
    private let logger: Logger

    init(
        camera: String, config: MotionConfig, archive: MotionArchive, feed: ChangeFeed,
        hooks: (any MotionHookRunner)?, logger: Logger
    ) {
        self.camera = camera
        self.config = config
        self.archive = archive
        self.feed = feed
        self.hooks = hooks
        self.logger = logger
        self.items = BoundedQueue(
            capacity: Self.maxQueuedItems, overflow: .refuseNew, maxCost: config.writeQueueMaxBytes
        ) { item in
            if case .frame(let frame, _) = item { return FrameRing.cost(of: frame) }
            return 0
        }
    }

    /// Writes until the queue is finished and drained.
    func run() async {
        var record: MotionEventRecord?
        var clip: ClipWriter?
        while let item = await items.next() {
            switch item {
            case .begin(let started, let thumbnail):
                var started = started
                if let thumbnail, writeThumbnail(thumbnail, id: started.id) {
                    started.thumbnail = archive.thumbnailName(started.id)
                }
                do {
                    clip = try ClipWriter(path: archive.path(archive.clipName(started.id)))
                } catch {
                    logger.error("motion event \(started.id): cannot create its clip, frames are not saved: \(error)")
                    clip = nil
                }
                await save(started)
                record = started
                logger.info("motion event \(started.id) started\(started.noFreshFrame ? " (no fresh frame)" : "")")
                publish(.started, started, hook: config.onEventStart, hookName: "on_event_start")
            case .frame(let frame, let pre):
                guard var current = record, let writer = clip else { continue }
                do {
                    try writer.append(frame)
                } catch {
                    logger.error("motion event \(current.id): cannot write its clip, recording stops: \(error)")
                    writer.abandon()
                    clip = nil
                    continue
                }
                current.frames += 1
                if pre { current.preFrames += 1 }
                if current.firstFrameAt == nil { current.firstFrameAt = frame.wallTime }
                current.endedAt = frame.wallTime
                current.width = frame.width
                current.height = frame.height
                record = current
            case .end(let info):
                guard var ended = record else { continue }
                record = nil
                if let best = info.best, writeThumbnail(best, id: ended.id) {
                    ended.thumbnail = archive.thumbnailName(ended.id)
                }
                var bytes: Int64 = 0
                if let writer = clip, ended.frames > 0 {
                    do {
                        try writer.finish()
                        ended.clip = archive.clipName(ended.id)
                        bytes += writer.bytes
                    } catch {
                        logger.error("motion event \(ended.id): cannot complete its clip: \(error)")
                        writer.abandon()
                        ended.frames = 0
                        ended.preFrames = 0
                    }
                } else {
                    clip?.abandon()
                    ended.frames = 0
                    ended.preFrames = 0
                }
                clip = nil
                if let thumbnail = ended.thumbnail, let size = archive.fileSize(archive.path(thumbnail)) {
                    bytes += size
                }
                ended.bytes = bytes
                ended.status = .complete
                ended.endReason = info.reason
                ended.peakPercent = info.peakPercent
                ended.staleGaps = info.staleGaps
                ended.droppedFrames = info.droppedFrames
                if ended.endedAt == nil { ended.endedAt = info.endedAt }
                await save(ended)
                logger.info(
                    "motion event \(ended.id) ended (\(info.reason)): \(ended.frames) frames, \(ended.bytes) bytes, peak \(fixed(info.peakPercent, 1))%"
                )
                publish(.ended, ended, hook: config.onEventEnd, hookName: "on_event_end")
                archive.requestPrune()
            }
        }
        clip?.abandon()
    }

    private func writeThumbnail(_ frame: Frame, id: String) -> Bool {
        do {
            try frame.jpeg.withUnsafeReadableBytes {
                try AtomicFile.write($0, to: archive.path(archive.thumbnailName(id)))
            }
            return true
        } catch {
            logger.error("motion event \(id): cannot write its thumbnail: \(error)")
            return false
        }
    }

    private func save(_ record: MotionEventRecord) async {
        do {
            try await archive.store.saveMotionEvent(record)
        } catch {
            logger.error("motion event \(record.id): cannot save its row: \(error)")
        }
    }

    private func publish(_ kind: MotionChange.Kind, _ record: MotionEventRecord, hook: HookConfig?, hookName: String) {
        let (camera, event) = (camera, record.wire)
        let version = feed.publish { .motion(MotionChange(kind: kind, version: $0, camera: camera, record: event)) }
        if let hook, let hooks {
            // The same object the events socket sends.
            let payload = ServerMessage.motion(
                MotionChange(kind: kind, version: version, camera: camera, record: event))
            hooks.run(hook, name: "\(hookName) \(record.id)", payload: WireJSON.text(payload))
        }
    }
}
