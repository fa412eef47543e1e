import Logging
import Synchronization
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Runs the hooks of events (`on_event_start`, `on_event_end`) without ever
/// blocking the caller: implementations queue (bounded) and return.
public protocol EventHookRunner: Sendable {
    func run(_ hook: HookConfig, name: String, payload: String)
}

/// Motion detection and event recording for one camera.
///
/// Three parts, none of them on the viewers' path:
/// - `offer` (called by the hub for every frame, must not block) puts the
///   frame in the pre-capture ring or, during an event, in the write queue
///   (bounded by bytes: a disk that cannot keep up loses frames, counted,
///   never memory), and hands one frame per `1/analysis_fps` to analysis,
///   newest wins: a slow analysis skips frames, it never delays or buffers
///   them;
/// - the analysis task decodes that frame to small grayscale, compares it
///   with the background and feeds the event rules;
/// - the writer task writes each event's clip, thumbnail and row.
///
/// Only frames younger than `max_frame_age` on arrival are taken. When an
/// event starts while the camera is stale, the ring (older frames) is dropped
/// and the event is marked `no_fresh_frame`; it records frames again when
/// they return. Nothing ever repeats a frame to fill a gap.
public final class MotionMonitor: FrameSubscriber {
    public let camera: String
    public let config: MotionConfig
    public let maxFrameAge: Duration
    private let archive: EventArchive
    private let events: EventBus
    private let hooks: (any EventHookRunner)?
    private let logger: Logger
    private let origin = ContinuousClock.now
    private let interval: Duration
    private let state: Mutex<State>
    /// The frame waiting for analysis: newest wins, a replaced one is skipped.
    private let samples = FrameMailbox()
    /// What the writer has to do, in order; live frames bounded by
    /// `write_queue_max_bytes` (beyond it they are dropped and counted).
    private let writes: BoundedQueue<WriteItem>
    private let tasks = Mutex<(writer: Task<Void, Never>?, others: [Task<Void, Never>])>((nil, []))

    enum WriteItem: Sendable {
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

    struct Current {
        var id: String
        var startInstant: ContinuousClock.Instant
        var peakPercent = 0.0
        var best: Frame?
        var staleGaps = 0
        var inStaleGap = false
        var droppedFrames = 0
    }

    struct State {
        var ring: FrameRing
        var detector: MotionDetector
        var nextSample: ContinuousClock.Instant?
        var current: Current?
        var lastFrameAt: ContinuousClock.Instant?
        var finished = false
        var analysed = 0
        var lastPercent = 0.0
    }

    /// Counters for tests, benchmarks and metrics.
    public struct Stats: Sendable {
        public var analysed: Int
        public var skipped: Int
        public var ringFrames: Int
        public var ringBytes: Int
        public var queuedBytes: Int
        public var inEvent: Bool
        public var lastPercent: Double
    }

    public init(
        camera: String, config: MotionConfig, maxFrameAge: Duration, archive: EventArchive, events: EventBus,
        hooks: (any EventHookRunner)?, logger: Logger
    ) {
        self.camera = camera
        self.config = config
        self.maxFrameAge = maxFrameAge
        self.archive = archive
        self.events = events
        self.hooks = hooks
        var logger = logger
        logger[metadataKey: "camera"] = "\(camera)"
        self.logger = logger
        self.interval = .milliseconds(Int64((1000 / config.analysisFps).rounded()))
        self.writes = BoundedQueue(
            capacity: Self.maxQueuedWrites, overflow: .refuseNew, maxCost: config.writeQueueMaxBytes
        ) { item in
            if case .frame(let frame, _) = item { return FrameRing.cost(of: frame) }
            return 0
        }
        self.state = Mutex(
            State(
                ring: FrameRing(maxDuration: config.preCapture, maxBytes: config.preCaptureMaxBytes),
                detector: Self.detector(config)))
    }

    /// Items waiting for the writer, at most (the byte bound usually comes first).
    static let maxQueuedWrites = 65_536

    private static func detector(_ config: MotionConfig) -> MotionDetector {
        MotionDetector(
            threshold: config.threshold, minimumMotionFrames: config.minimumMotionFrames,
            eventGap: config.eventGap.seconds, postCapture: config.postCapture.seconds)
    }

    public var stats: Stats {
        state.withLock {
            Stats(
                analysed: $0.analysed, skipped: samples.dropped, ringFrames: $0.ring.count, ringBytes: $0.ring.bytes,
                queuedBytes: writes.cost, inEvent: $0.current != nil, lastPercent: $0.lastPercent)
        }
    }

    /// Starts the analysis, writer and timer tasks.
    public func start() {
        let analysis = Task { await self.analyse() }
        let writer = Task { await self.write() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                self.tick()
            }
        }
        tasks.withLock { $0 = (writer, [analysis, ticker]) }
    }

    /// Waits until the writer has finished the last event (after `finish`),
    /// then ends the analysis and the timer.
    public func waitUntilDone() async {
        let (writer, others) = tasks.withLock { $0 }
        await writer?.value
        for task in others { task.cancel() }
        for task in others { await task.value }
    }

    private func seconds(_ instant: ContinuousClock.Instant) -> Double { (instant - origin).seconds }

    // MARK: - Frames in (the publisher's thread)

    public func offer(_ frame: Frame) {
        guard !frame.isPlaceholder, frame.age <= maxFrameAge else { return }
        let sampled = state.withLock { state -> Bool in
            guard !state.finished else { return false }
            if let last = state.lastFrameAt, state.current?.inStaleGap == false,
                frame.capturedAt - last > maxFrameAge
            {
                state.current?.staleGaps += 1
            }
            state.lastFrameAt = frame.capturedAt
            state.current?.inStaleGap = false
            if state.current != nil, state.detector.records(frameAt: seconds(frame.capturedAt)) {
                enqueueLive(frame, &state)
            } else {
                state.ring.append(frame)
            }
            guard state.nextSample.map({ frame.capturedAt >= $0 }) ?? true else { return false }
            var next = (state.nextSample ?? frame.capturedAt) + interval
            if next <= frame.capturedAt { next = frame.capturedAt + interval }
            state.nextSample = next
            return true
        }
        if sampled { samples.offer(frame) }
    }

    public func finish() {
        samples.finish()
        state.withLock { state in
            guard !state.finished else { return }
            if state.current != nil { endEvent(reason: "shutdown", at: .now, &state) }
            state.finished = true
        }
        // The writer still drains what is queued, then ends.
        writes.finish()
    }

    /// A live frame for the running event, unless the write queue is full.
    private func enqueueLive(_ frame: Frame, _ state: inout State) {
        if !writes.push(.frame(frame, pre: false)) {
            state.current?.droppedFrames += 1
        }
    }

    /// Begin, end and pre-capture frames: queued whatever the bound (the
    /// ring that held the frames was bounded already), in the order of the
    /// rules' decisions, which is why this runs under the state lock.
    private func enqueue(_ item: WriteItem, _ state: inout State) {
        writes.push(item, ignoringLimits: true)
    }

    // MARK: - Analysis

    private func analyse() async {
        let decoder: GrayDecoder
        do {
            decoder = try GrayDecoder()
        } catch {
            logger.error("motion detection off: \(error)")
            return
        }
        let analyzer = MotionAnalyzer(noiseLevel: config.noiseLevel, masks: config.masks)
        var failures = 0
        while let frame = await samples.next() {
            let sample: MotionSample
            do {
                sample = analyzer.analyze(try decoder.decode(frame.jpeg))
            } catch {
                failures += 1
                // Once, then every 1000th: a broken stream must not flood the log.
                if failures % 1000 == 1 {
                    logger.warning("motion: cannot decode frame \(frame.seq) (\(failures) so far): \(error)")
                }
                continue
            }
            handle(sample.percent, frame: frame)
        }
    }

    /// Applies one analysed frame to the event rules.
    func handle(_ percent: Double, frame: Frame) {
        state.withLock { state in
            guard !state.finished else { return }
            state.analysed += 1
            state.lastPercent = percent
            let t = seconds(frame.capturedAt)
            if let current = state.current, percent > config.threshold,
                frame.capturedAt - current.startInstant >= config.maxEventDuration
            {
                endEvent(reason: "max_duration", at: frame.capturedAt, &state)
                state.detector = Self.detector(config)
            }
            switch state.detector.sample(at: t, percent: percent) {
            case .started(let at):
                beginEvent(motionAt: at, trigger: frame, &state)
            case .ended:
                endEvent(reason: "no_motion", at: frame.capturedAt, &state)
            case nil:
                if state.current != nil, percent > config.threshold {
                    // Motion again after the post-capture frames ended: the
                    // frames of the last pre_capture seconds join the clip.
                    drainRing(from: t - config.preCapture.seconds, motionAt: t, &state)
                }
            }
            if state.current != nil, percent > (state.current?.peakPercent ?? 0) {
                state.current?.peakPercent = percent
                state.current?.best = frame
            }
        }
    }

    private func beginEvent(motionAt: Double, trigger: Frame, _ state: inout State) {
        let now = ContinuousClock.now
        let id = Identifier.newRecordID()
        let startWall = trigger.wallTime - (seconds(trigger.capturedAt) - motionAt)
        var record = MotionEventRecord(id: id, camera: camera, startedAt: startWall)
        let fresh = state.lastFrameAt.map { now - $0 <= maxFrameAge } ?? false
        record.noFreshFrame = !fresh
        state.current = Current(id: id, startInstant: origin + .milliseconds(Int64(motionAt * 1000)))
        enqueue(.begin(record, thumbnail: fresh ? trigger : nil), &state)
        if fresh {
            drainRing(from: motionAt - config.preCapture.seconds, motionAt: motionAt, &state)
        } else {
            // Nothing old is saved: the camera went stale before the event could take its frames.
            _ = state.ring.drain()
            state.current?.inStaleGap = true
            state.current?.staleGaps = 1
        }
    }

    /// Moves the ring's frames taken since `from` into the clip, keeping only
    /// the continuous run (no gap longer than `max_frame_age`) up to now.
    private func drainRing(from: Double, motionAt: Double, _ state: inout State) {
        let frames = state.ring.drain()
        var start = frames.count
        while start > 0 {
            let frame = frames[start - 1]
            if seconds(frame.capturedAt) < from { break }
            if start < frames.count, frames[start].capturedAt - frame.capturedAt > maxFrameAge { break }
            start -= 1
        }
        for frame in frames[start...] {
            enqueue(.frame(frame, pre: seconds(frame.capturedAt) < motionAt), &state)
        }
    }

    private func endEvent(reason: String, at instant: ContinuousClock.Instant, _ state: inout State) {
        guard let current = state.current else { return }
        let wall = Date().timeIntervalSince1970 - (ContinuousClock.now - instant).seconds
        enqueue(
            .end(
                EndInfo(
                    reason: reason, peakPercent: current.peakPercent, best: current.best,
                    staleGaps: current.staleGaps, droppedFrames: current.droppedFrames, endedAt: wall)), &state)
        state.current = nil
    }

    /// Time passes: ends an event after `event_gap` without motion, also when
    /// no frame comes at all, and notes when the camera goes stale.
    func tick(now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            guard !state.finished, state.current != nil else { return }
            if let last = state.lastFrameAt, now - last > maxFrameAge, state.current?.inStaleGap == false {
                state.current?.inStaleGap = true
                state.current?.staleGaps += 1
                logger.notice(
                    "motion event \(state.current?.id ?? ""): camera stale, no frame saved until frames return")
            }
            if case .ended = state.detector.tick(at: seconds(now)) {
                endEvent(reason: "no_motion", at: now, &state)
            }
        }
    }

    // MARK: - Writing

    private func write() async {
        var record: MotionEventRecord?
        var clip: ClipWriter?
        while let item = await writes.next() {
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
                save(started)
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
                save(ended)
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

    private func save(_ record: MotionEventRecord) {
        do {
            try archive.store.saveMotionEvent(record)
        } catch {
            logger.error("motion event \(record.id): cannot save its row: \(error)")
        }
    }

    private func publish(_ kind: MotionChange.Kind, _ record: MotionEventRecord, hook: HookConfig?, hookName: String) {
        let (camera, event) = (camera, record.wire)
        let version = events.publish { .motion(MotionChange(kind: kind, version: $0, camera: camera, event: event)) }
        if let hook, let hooks {
            // The same object the events socket sends.
            let payload = ServerMessage.motion(MotionChange(kind: kind, version: version, camera: camera, event: event))
            hooks.run(hook, name: "\(hookName) \(record.id)", payload: WireJSON.text(payload))
        }
    }
}
