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

/// One camera: its desired and actual state, its watchdog and its restarts.
///
/// The camera owns a supervisor task while it should run. The supervisor
/// builds a *new* source through the factory for every attempt, runs it next
/// to a watchdog, and when the source fails, exits or goes silent for
/// `stale_after`, tears it down completely (the source closes its sockets and
/// reaps its children before returning) and starts over after a backoff
/// (exponential, full jitter, capped, never giving up). So no connection or
/// process outlives its attempt and "already connected" cannot happen.
///
/// State lives here and nowhere else; every change is published on the
/// change feed, which stamps it with a global version, and reported through
/// `onChange`. Fps and viewer count are published too, at most once a second
/// and only when they changed.
public actor Camera {
    public nonisolated let id: String
    public nonisolated let config: CameraConfig
    public nonisolated let hub: FrameHub
    /// Restarts by reason and recovery times, for `/metrics`.
    public nonisolated let statistics = CameraStatistics()
    private nonisolated let cards: PlaceholderCards
    let makeSource: FrameSourceFactory
    /// Probes a network camera's upstream during a restart backoff.
    let reachable: CameraReachability?
    let store: (any RecordStore)?
    public nonisolated let feed: ChangeFeed
    let logger: Logger
    private let onChange: @Sendable (CameraState) -> Void
    /// Told when a start or stop asked of this node is stored (a cluster
    /// tells the node running the camera at once).
    private let onDesiredStored: @Sendable (_ camera: String, DesiredState) -> Void

    var desired: DesiredState = .running
    /// The last write of `desired` (`changeDesired`) and how many were asked for.
    private var desiredWrite: Task<Void, any Error>?
    private var desiredChanges = 0
    /// Writes of `desired` not finished yet: until then the store's value is older.
    var desiredWritesPending = 0
    var phase: CameraPhase = .stopped
    private var since = Date()
    private var version: UInt64 = 0
    private var restarts = 0
    private var lastError: String?
    var supervisor: Task<Void, Never>?
    private var generation = 0
    private var ticker: Task<Void, Never>?
    var isShutDown = false
    /// In a cluster, true while this node holds the camera's lease: only
    /// then does its source run here (`Camera+Lease`). Always true alone.
    var isHeld: Bool
    /// This node's name in a cluster (shown as `owner` while held here).
    let node: String?
    /// While another node runs the camera: its state as that node last told.
    var remote: (state: CameraState, owner: String?)?
    /// Capture requests whose row is being written (`requestCapture`).
    var capturesBeingSaved = 0
    /// Stills: how to take one, where they go, and what is waiting.
    let capturer: (any StillCapturer)?
    let capturesDir: String?
    var captureQueue: [CaptureRecord] = []
    var currentCapture: CaptureRecord?
    var captureWorker: Task<Void, Never>?
    /// True while a capture has stopped the live source (`pause_live`).
    var pausedForCapture = false
    private var publishedFps: Double = 0
    private var publishedClients = 0
    /// When the running source last failed with no fresh frame since
    /// (`vigil_camera_recovery_seconds` measures from here to live again).
    private var faultAt: ContinuousClock.Instant?

    public init(
        config: CameraConfig,
        makeSource: @escaping FrameSourceFactory,
        reachable: CameraReachability? = nil,
        store: (any RecordStore)? = nil,
        desired: DesiredState = .running,
        held: Bool = true,
        node: String? = nil,
        feed: ChangeFeed = ChangeFeed(),
        capturer: (any StillCapturer)? = nil,
        capturesDir: String? = nil,
        logger: Logger = Logger(label: "vigil.camera"),
        onChange: @escaping @Sendable (CameraState) -> Void = { _ in },
        onDesiredStored: @escaping @Sendable (_ camera: String, DesiredState) -> Void = { _, _ in }
    ) {
        self.id = config.id
        self.config = config
        self.hub = FrameHub(camera: config.id)
        self.cards = PlaceholderCards(camera: config.id)
        self.makeSource = makeSource
        self.reachable = reachable
        self.store = store
        self.feed = feed
        self.capturer = capturer
        self.capturesDir = capturesDir
        var logger = logger
        logger[metadataKey: "camera"] = "\(config.id)"
        self.logger = logger
        self.onChange = onChange
        self.onDesiredStored = onDesiredStored
        self.desired = desired
        self.isHeld = held
        self.node = node
        // Every camera is in the feed's snapshot from the start, so a `hello`
        // always lists them all.
        self.version = feed.publishState(
            CameraState(
                id: config.id, kind: config.source.kind, desired: desired, phase: .stopped,
                since: ISO8601.string(since), version: 0, fps: 0, clients: 0, restarts: 0))
    }

    /// Starts the placeholder ticker and, if the persisted desired state
    /// (default `running`) says so, the source.
    public func activate() {
        guard !isShutDown, ticker == nil else { return }
        ticker = Task { [weak self] in await self?.tickPlaceholders() }
        if desired == .running, isHeld {
            spawnSupervisor()
        } else {
            changed()
        }
    }

    /// Wants the camera running (persisted) and starts it if needed. Idempotent.
    @discardableResult
    public func start() async throws -> CameraState {
        if desired != .running {
            try await changeDesired(to: .running)
            logger.info("start requested")
        }
        // A capture that paused the live source starts a fresh one when it ends.
        if supervisor == nil, !isShutDown, !pausedForCapture, isHeld {
            spawnSupervisor()
        }
        return state()
    }

    /// Wants the camera stopped (persisted) and stops its source. Idempotent.
    @discardableResult
    public func stop() async throws -> CameraState {
        if desired != .stopped {
            try await changeDesired(to: .stopped)
            logger.info("stop requested")
        }
        await stopSupervisor()
        if supervisor == nil, phase != .stopped, !pausedForCapture {
            setPhase(.stopped)
        }
        return state()
    }

    /// Sets `desired` at once (so requests see it in the order they came)
    /// and persists it; writes are chained, so the store ends with the last
    /// request's value even when an earlier write is slower. A failed write
    /// puts back the value before it, unless a later request changed it.
    private func changeDesired(to value: DesiredState) async throws {
        let previous = desired
        desired = value
        desiredChanges += 1
        let change = desiredChanges
        changed()
        let (prior, store, id) = (desiredWrite, store, id)
        let write = Task {
            _ = await prior?.result
            try await store?.setDesired(value, camera: id)
        }
        desiredWrite = write
        desiredWritesPending += 1
        defer { desiredWritesPending -= 1 }
        do {
            try await write.value
            onDesiredStored(id, value)
        } catch {
            if desiredChanges == change {
                desired = previous
                changed()
            }
            throw error
        }
    }

    /// Stops the source and ends every subscription, keeping `desired` as is.
    public func shutdown() async {
        isShutDown = true
        if let ticker {
            ticker.cancel()
            await ticker.value
        }
        ticker = nil
        await stopCaptures()
        await stopSupervisor()
        hub.finishAll()
    }

    /// The state as the API shows it: in a cluster, the owner's when
    /// another node runs the camera.
    public func state() -> CameraState {
        if !isHeld, let remote {
            var mirrored = remote.state
            mirrored.version = version
            mirrored.owner = remote.owner
            // What this node was last asked (or told) is at least as new.
            mirrored.desired = desired
            return mirrored
        }
        let latest = hub.latest
        return CameraState(
            id: id,
            kind: config.source.kind,
            desired: desired,
            phase: phase,
            since: ISO8601.string(since),
            version: version,
            fps: Self.roundedFps(hub.framesPerSecond),
            width: latest?.width,
            height: latest?.height,
            lastFrameSeq: latest?.seq,
            lastFrameAgeMs: latest.map { Int($0.age.seconds * 1000) },
            clients: hub.viewerCount,
            restarts: restarts,
            lastError: lastError,
            owner: isHeld ? node : nil
        )
    }

    public var currentPhase: CameraPhase { phase }

    // MARK: - Supervision

    func spawnSupervisor() {
        generation += 1
        let generation = self.generation
        supervisor = Task { [weak self] in await self?.supervise(generation: generation) }
    }

    func stopSupervisor() async {
        // A stop (by a user or for a capture) is not a fault to recover from.
        faultAt = nil
        guard let task = supervisor else { return }
        supervisor = nil
        generation += 1
        task.cancel()
        await task.value
    }

    private enum AttemptEvent: Sendable {
        case live
        case stale(Duration)
    }

    private enum AttemptOutcome: Sendable {
        case cancelled
        case stale(Duration)
        /// `exited`: the source ended by itself rather than failing.
        case failed(String, exited: Bool)
    }

    private static func restartReason(_ outcome: AttemptOutcome) -> CameraStatistics.RestartReason {
        switch outcome {
        case .stale: .stale
        case .failed(_, exited: true): .exited
        case .failed, .cancelled: .error
        }
    }

    private func supervise(generation: Int) async {
        var backoff = Backoff(initial: config.restart.initialBackoff, max: config.restart.maxBackoff)
        var attempt = 0
        while !Task.isCancelled, generation == self.generation {
            setPhase(attempt == 0 ? .starting : .recovering)
            attempt += 1
            let sink = FrameSink(hub: hub)
            let outcome: AttemptOutcome
            do {
                let source = try makeSource()
                outcome = await Self.runAttempt(
                    source: source, sink: sink, staleAfter: config.staleAfter
                ) { [weak self] event in
                    await self?.attemptEvent(event, generation: generation)
                }
            } catch {
                outcome = .failed("cannot create source: \(error)", exited: false)
            }
            guard !Task.isCancelled, generation == self.generation else { break }
            let reason: String
            switch outcome {
            case .cancelled: return
            case .stale(let age):
                reason = "stale: no frame for \(Self.format(age))" + Self.describe(sink.rejections)
            case .failed(let message, _): reason = message
            }
            statistics.restarted(Self.restartReason(outcome))
            if faultAt == nil { faultAt = sink.lastFrameAt }
            if let first = sink.firstFrameAt, ContinuousClock.now - first >= config.restart.stableAfter {
                backoff.reset()
            }
            let delay = backoff.next()
            restarts += 1
            lastError = reason
            logger.warning(
                "source replaced: \(reason); frames this attempt: \(sink.frames); restart #\(restarts) in \(Self.format(delay))"
            )
            // `restarts` and `last_error` changed: always a new version, even
            // when the phase stays `recovering` or `stale`.
            setPhase(phase == .stale ? .stale : .recovering, force: true)
            do {
                try await waitOut(delay)
            } catch {
                break
            }
        }
    }

    /// What a stale attempt received instead of frames, for `last_error`.
    private static func describe(_ rejections: (count: Int, last: String?)) -> String {
        guard rejections.count > 0, let last = rejections.last else { return "" }
        let messages = rejections.count == 1 ? "1 message" : "\(rejections.count) messages"
        return " (\(messages) skipped; the last: \(last))"
    }

    /// How often an unreachable upstream is probed during a backoff.
    static let probeInterval: Duration = .milliseconds(250)

    /// Waits out a restart backoff. An upstream that cannot be reached now
    /// (an outage, not a broken stream) is probed every `probeInterval` and
    /// the wait ends as soon as it answers, so frames are back right after
    /// its return rather than after a backoff that grew during the outage.
    /// A reachable but failing upstream waits the whole backoff: the probe
    /// never shortens the spacing of real attempts against a live peer.
    private func waitOut(_ delay: Duration) async throws {
        let deadline = ContinuousClock.now + delay
        guard let reachable, delay > Self.probeInterval, await !reachable() else {
            try await Task.sleep(until: deadline)
            return
        }
        while ContinuousClock.now + Self.probeInterval < deadline {
            try await Task.sleep(for: Self.probeInterval)
            if await reachable() {
                logger.info(
                    "upstream reachable again: retrying now, \(Self.format(deadline - .now)) before the backoff ends")
                return
            }
        }
        try await Task.sleep(until: deadline)
    }

    private func attemptEvent(_ event: AttemptEvent, generation: Int) {
        guard generation == self.generation else { return }
        switch event {
        case .live:
            setPhase(.live)
            if let faultAt {
                self.faultAt = nil
                statistics.recovered(after: ContinuousClock.now - faultAt)
            }
        case .stale(let age):
            logger.warning("stale: no frame for \(Self.format(age)) (stale_after \(Self.format(config.staleAfter)))")
            setPhase(.stale)
        }
    }

    /// Runs one source next to its watchdog; returns when either ends, after
    /// the source has fully stopped.
    private static func runAttempt(
        source: any FrameSource,
        sink: FrameSink,
        staleAfter: Duration,
        onEvent: @escaping @Sendable (AttemptEvent) async -> Void
    ) async -> AttemptOutcome {
        await withTaskGroup(of: AttemptOutcome?.self) { group in
            group.addTask {
                do {
                    try await source.run(into: sink)
                    return Task.isCancelled ? .cancelled : .failed("source ended", exited: true)
                } catch {
                    let exited = (error as? SourceEnded)?.exited ?? false
                    return Task.isCancelled ? .cancelled : .failed("\(error)", exited: exited)
                }
            }
            group.addTask {
                let tick = min(Duration.milliseconds(100), staleAfter / 10)
                var live = false
                var staleSince: ContinuousClock.Instant?
                while !Task.isCancelled {
                    do { try await Task.sleep(for: tick) } catch { return nil }
                    let lastFrame = sink.lastFrameAt
                    if let since = staleSince, lastFrame > since {
                        // Frames are back (a source that is not restarted when stale).
                        staleSince = nil
                        live = false
                    }
                    if !live, staleSince == nil, sink.firstFrameAt != nil {
                        live = true
                        await onEvent(.live)
                    }
                    let age = ContinuousClock.now - lastFrame
                    if age > staleAfter, staleSince == nil {
                        await onEvent(.stale(age))
                        guard source.restartsWhenStale else {
                            staleSince = lastFrame
                            live = false
                            continue
                        }
                        return .stale(age)
                    }
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            var outcome = first
            while let next = await group.next() {
                if outcome == nil { outcome = next }
            }
            return outcome ?? .cancelled
        }
    }

    // MARK: - Phase and placeholders

    func setPhase(_ newPhase: CameraPhase, force: Bool = false) {
        guard newPhase != phase || force else { return }
        if newPhase != phase {
            since = Date()
        }
        phase = newPhase
        hub.isLive = newPhase == .live
        if newPhase == .live {
            logger.info("live")
        }
        changed()
        sendPlaceholder()
    }

    func changed() {
        let current = state()
        version = feed.publishState(current)
        publishedFps = current.fps
        publishedClients = current.clients
        var stamped = current
        stamped.version = version
        onChange(stamped)
    }

    /// Publishes fps and viewer count when they changed noticeably.
    private func publishStatsIfChanged() {
        // Another node runs the camera: its fps and viewers come from there
        // (the relay's fps and this node's viewers are not the camera's).
        guard isHeld else { return }
        let fps = Self.roundedFps(hub.framesPerSecond)
        if hub.viewerCount != publishedClients || abs(fps - publishedFps) >= max(0.5, publishedFps * 0.05) {
            changed()
        }
    }

    private static func roundedFps(_ fps: Double) -> Double {
        (fps * 10).rounded() / 10
    }

    private func sendPlaceholder() {
        // Another node runs the camera: what viewers here see comes from it.
        guard isHeld, let reason = phase.placeholderReason, let card = cards.card(for: reason) else { return }
        hub.publishPlaceholder(
            Frame(
                camera: id, seq: 0, jpeg: card.buffer, width: card.width, height: card.height,
                isPlaceholder: true))
    }

    private func tickPlaceholders() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
            sendPlaceholder()
            publishStatsIfChanged()
        }
    }

    // MARK: - Formatting

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        return "\(fixed(seconds, 1)) s"
    }
}
