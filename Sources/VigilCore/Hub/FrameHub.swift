import Synchronization

/// Receives frames from a `FrameHub`.
///
/// `offer` is called on the publisher's thread with no hub lock held; it must
/// not block. Implementations keep at most one pending frame (newest wins).
public protocol FrameSubscriber: AnyObject, Sendable {
    /// A new frame (or placeholder) is available.
    func offer(_ frame: Frame)
    /// The hub is shutting down: no more frames will come.
    func finish()
}

/// The meeting point of one camera's frames and everyone who wants them.
///
/// It keeps the latest real frame (for snapshots and captures) and hands each
/// published frame to every subscriber. Publishing costs one lock and one
/// `offer` per subscriber; the frame's bytes are shared, never copied.
public final class FrameHub: Sendable {
    private struct State {
        var latest: Frame?
        var nextSeq: UInt64 = 1
        var subscribers: [ObjectIdentifier: any FrameSubscriber] = [:]
        /// Snapshot of `subscribers` rebuilt on change, so publishing does not allocate.
        var fanout: [any FrameSubscriber] = []
        var viewers = 0
        var finished = false
        var isLive = false
        var placeholder: Frame?
        var frameInterval: Double = 0
        var lastPublish: ContinuousClock.Instant?
        var framesPublished = 0
        var bytesPublished = 0
    }

    public let camera: String
    /// Frames sent to and missed by this camera's viewers.
    public let traffic = ViewerTraffic()
    /// Woken when the first viewer comes or the last one leaves (a relay
    /// that runs on demand waits on it).
    public let demandChanged = BoundedQueue<Void>(capacity: 1, overflow: .dropOldest)
    private let state = Mutex(State())

    public init(camera: String) {
        self.camera = camera
    }

    /// Publishes a camera frame built from `jpeg`; assigns the next sequence number.
    @discardableResult
    public func publish(_ jpeg: ParsedJPEG, capturedAt: ContinuousClock.Instant = .now) -> Frame {
        let (frame, fanout) = state.withLock { state -> (Frame, [any FrameSubscriber]) in
            let frame = Frame(
                camera: camera,
                seq: state.nextSeq,
                jpeg: jpeg.buffer,
                width: jpeg.width,
                height: jpeg.height,
                capturedAt: capturedAt
            )
            state.nextSeq += 1
            if let last = state.lastPublish {
                let interval = (capturedAt - last).seconds
                state.frameInterval =
                    state.frameInterval == 0 ? interval : state.frameInterval * 0.9 + interval * 0.1
            }
            state.lastPublish = capturedAt
            state.latest = frame
            state.framesPublished += 1
            state.bytesPublished += frame.jpeg.readableBytes
            return (frame, state.finished ? [] : state.fanout)
        }
        for subscriber in fanout {
            subscriber.offer(frame)
        }
        return frame
    }

    /// Sends a placeholder card to the subscribers; it never becomes `latest`.
    public func publishPlaceholder(_ frame: Frame) {
        let fanout = state.withLock { state -> [any FrameSubscriber] in
            state.placeholder = frame
            return state.finished ? [] : state.fanout
        }
        for subscriber in fanout {
            subscriber.offer(frame)
        }
    }

    /// Mirrors the camera's phase for readers that cannot wait on the camera
    /// actor (the viewers' event loops): true while the phase is `live`.
    public var isLive: Bool {
        get { state.withLock { $0.isLive } }
        set { state.withLock { $0.isLive = newValue } }
    }

    /// What a viewer that connects now should see first: the latest frame if
    /// the camera is live and the frame younger than `maxAge`, otherwise the
    /// latest placeholder card.
    public func greeting(maxAge: Duration) -> Frame? {
        state.withLock { state in
            if state.isLive, let latest = state.latest, latest.age <= maxAge { return latest }
            return state.placeholder
        }
    }

    /// The newest camera frame, whatever its age.
    public var latest: Frame? { state.withLock { $0.latest } }

    /// The newest camera frame if it is younger than `maxAge`.
    public func latest(maxAge: Duration) -> Frame? {
        guard let frame = latest, frame.age <= maxAge else { return nil }
        return frame
    }

    /// Frames per second, smoothed; 0 when no frame came for two seconds.
    public var framesPerSecond: Double {
        state.withLock { state in
            guard let last = state.lastPublish, state.frameInterval > 0,
                (ContinuousClock.now - last) < .seconds(2)
            else { return 0 }
            return 1 / state.frameInterval
        }
    }

    /// Camera frames published since the start, and their JPEG bytes.
    public var published: (frames: Int, bytes: Int) {
        state.withLock { ($0.framesPublished, $0.bytesPublished) }
    }

    /// Number of subscribers registered as viewers.
    public var viewerCount: Int { state.withLock { $0.viewers } }

    /// Adds a subscriber. Returns false after `finishAll()`.
    @discardableResult
    public func subscribe(_ subscriber: any FrameSubscriber, isViewer: Bool = true) -> Bool {
        state.withLock { state in
            guard !state.finished else { return false }
            state.subscribers[ObjectIdentifier(subscriber)] = subscriber
            state.fanout = Array(state.subscribers.values)
            if isViewer { state.viewers += 1 }
            if isViewer, state.viewers == 1 { demandChanged.push(()) }
            return true
        }
    }

    /// Removes a subscriber; harmless if it is not registered.
    public func unsubscribe(_ subscriber: any FrameSubscriber, isViewer: Bool = true) {
        state.withLock { state in
            guard state.subscribers.removeValue(forKey: ObjectIdentifier(subscriber)) != nil else { return }
            state.fanout = Array(state.subscribers.values)
            if isViewer { state.viewers -= 1 }
            if isViewer, state.viewers == 0 { demandChanged.push(()) }
        }
    }

    /// Counts viewers that reach the hub through a shared subscriber (the
    /// MJPEG fan-out registers once per event loop, not once per viewer).
    public func adjustViewers(by delta: Int) {
        state.withLock { state in
            let before = state.viewers
            state.viewers += delta
            if (before == 0) != (state.viewers == 0) { demandChanged.push(()) }
        }
    }

    /// Ends every subscription (shutdown). Later subscriptions are refused.
    public func finishAll() {
        let subscribers = state.withLock { state -> [any FrameSubscriber] in
            state.finished = true
            let all = state.fanout
            state.subscribers = [:]
            state.fanout = []
            state.viewers = 0
            return all
        }
        for subscriber in subscribers {
            subscriber.finish()
        }
    }
}
