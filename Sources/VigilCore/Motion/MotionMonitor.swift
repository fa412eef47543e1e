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
/// - the writer task (`MotionRecorder`) writes each event's clip, thumbnail
///   and row.
///
/// Only frames younger than `max_frame_age` on arrival are taken. When an
/// event starts while the camera is stale, the ring (older frames) is dropped
/// and the event is marked `no_fresh_frame`; it records frames again when
/// they return. Nothing ever repeats a frame to fill a gap.
public final class MotionMonitor: FrameSubscriber {
    public let camera: String
    public let config: MotionConfig
    public let maxFrameAge: Duration
    private let logger: Logger
    private let origin = ContinuousClock.now
    private let interval: Duration
    private let state: Mutex<State>
    /// The frame waiting for analysis: newest wins, a replaced one is skipped.
    private let samples = FrameMailbox()
    /// Writes each event's clip, thumbnail and row, from its bounded queue.
    private let recorder: MotionRecorder
    private var writes: BoundedQueue<MotionRecorder.Item> { recorder.items }
    /// In a cluster, false while another node runs the camera: frames
    /// relayed from it are not analysed here (that node records its events).
    private let active: Atomic<Bool>
    private let tasks = Mutex<(writer: Task<Void, Never>?, others: [Task<Void, Never>])>((nil, []))

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
        camera: String, config: MotionConfig, maxFrameAge: Duration, archive: MotionArchive, feed: ChangeFeed,
        hooks: (any MotionHookRunner)?, logger: Logger, active: Bool = true
    ) {
        self.active = Atomic(active)
        self.camera = camera
        self.config = config
        self.maxFrameAge = maxFrameAge
        var logger = logger
        logger[metadataKey: "camera"] = "\(camera)"
        self.logger = logger
        self.interval = .milliseconds(Int64((1000 / config.analysisFps).rounded()))
        self.recorder = MotionRecorder(
            camera: camera, config: config, archive: archive, feed: feed, hooks: hooks, logger: logger)
        self.state = Mutex(
            State(
                ring: FrameRing(maxDuration: config.preCapture, maxBytes: config.preCaptureMaxBytes),
                detector: Self.detector(config)))
    }

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
        let writer = Task { await self.recorder.run() }
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
        guard !frame.isPlaceholder, frame.age <= maxFrameAge, active.load(ordering: .relaxed) else { return }
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

    /// Analyses frames (this node runs the camera) or ignores them.
    public func setActive(_ on: Bool) {
        active.store(on, ordering: .relaxed)
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
    private func enqueue(_ item: MotionRecorder.Item, _ state: inout State) {
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
                MotionRecorder.EndInfo(
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
}
