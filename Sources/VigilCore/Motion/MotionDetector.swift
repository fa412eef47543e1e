/// Turns motion samples into events, with Motion's rules (the names its
/// users know):
///
/// - an event starts when `minimumMotionFrames` analysed frames in a row
///   changed more than `threshold` percent;
/// - frames are recorded while there is motion and for `postCapture` seconds
///   after the last motion;
/// - the event ends once `eventGap` seconds pass without motion; motion
///   within the gap continues the same event.
///
/// Pure logic on timestamps (seconds): no clock, no I/O, so every rule is
/// testable exactly.
public struct MotionDetector: Sendable {
    public enum Change: Sendable, Equatable {
        /// An event starts; `at` is its first motion sample.
        case started(at: Double)
        /// The event ended; `lastMotion` is its last motion sample.
        case ended(lastMotion: Double)
    }

    public let threshold: Double
    public let minimumMotionFrames: Int
    public let eventGap: Double
    public let postCapture: Double

    private var streak = 0
    private var streakStart: Double?
    public private(set) var inEvent = false
    public private(set) var lastMotion: Double?

    public init(threshold: Double, minimumMotionFrames: Int = 1, eventGap: Double, postCapture: Double = 0) {
        self.threshold = threshold
        self.minimumMotionFrames = max(1, minimumMotionFrames)
        self.eventGap = max(eventGap, postCapture)
        self.postCapture = postCapture
    }

    /// One analysed frame at time `t` that changed `percent` percent.
    public mutating func sample(at t: Double, percent: Double) -> Change? {
        if percent > threshold {
            if streak == 0 { streakStart = t }
            streak += 1
            if inEvent {
                lastMotion = t
                return nil
            }
            if streak >= minimumMotionFrames {
                inEvent = true
                lastMotion = t
                return .started(at: streakStart ?? t)
            }
            return nil
        }
        streak = 0
        streakStart = nil
        return tick(at: t)
    }

    /// Time passes (also without samples, e.g. a stalled camera).
    public mutating func tick(at t: Double) -> Change? {
        guard inEvent, let last = lastMotion, t - last >= eventGap else { return nil }
        inEvent = false
        lastMotion = nil
        return .ended(lastMotion: last)
    }

    /// Whether a frame taken at `t` belongs to the running event's clip.
    public func records(frameAt t: Double) -> Bool {
        guard inEvent, let last = lastMotion else { return false }
        return t <= last + postCapture || streak > 0
    }
}

/// The last frames of a camera, kept for an event's `pre_capture`: bounded
/// by time and by bytes, the oldest dropped first. Frames share their
/// buffers with every viewer; nothing is copied. Bytes are counted as the
/// memory the frames hold (their buffers' storage), not only the JPEG bytes,
/// so the bound is the memory the ring can keep alive.
public struct FrameRing: Sendable {
    public let maxDuration: Duration
    public let maxBytes: Int
    /// A circular buffer; a dropped frame's slot is cleared at once, so no
    /// frame outlives its place in the ring.
    private var slots: [Frame?] = []
    private var head = 0
    public private(set) var count = 0
    public private(set) var bytes = 0

    public init(maxDuration: Duration, maxBytes: Int) {
        self.maxDuration = maxDuration
        self.maxBytes = maxBytes
    }

    /// The memory a frame keeps alive.
    public static func cost(of frame: Frame) -> Int { frame.mjpegPart.storageCapacity }

    public mutating func append(_ frame: Frame) {
        guard maxDuration > .zero, maxBytes > 0 else { return }
        if count == slots.count {
            // Grow: unroll into a new array twice as large.
            var grown: [Frame?] = []
            grown.reserveCapacity(max(16, slots.count * 2))
            for index in 0..<count { grown.append(slots[(head + index) % slots.count]) }
            grown.append(contentsOf: repeatElement(nil, count: max(16, slots.count * 2) - count))
            slots = grown
            head = 0
        }
        slots[(head + count) % slots.count] = frame
        count += 1
        bytes += Self.cost(of: frame)
        while count > 0, let oldest = slots[head],
            bytes > maxBytes || frame.capturedAt - oldest.capturedAt > maxDuration
        {
            bytes -= Self.cost(of: oldest)
            slots[head] = nil
            head = (head + 1) % slots.count
            count -= 1
        }
    }

    /// The frames in order, emptying the ring.
    public mutating func drain() -> [Frame] {
        var frames: [Frame] = []
        frames.reserveCapacity(count)
        for index in 0..<count {
            let slot = (head + index) % slots.count
            if let frame = slots[slot] { frames.append(frame) }
            slots[slot] = nil
        }
        head = 0
        count = 0
        bytes = 0
        return frames
    }
}
