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
