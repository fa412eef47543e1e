/// Motion detection for one camera (`motion:`), with Motion's key names.
public struct MotionConfig: Sendable, Equatable {
    public var enabled = false
    /// Frames analysed per second, at most; the others are only recorded.
    public var analysisFps = 5.0
    /// Percent of the (unmasked) picture that must change to count as motion.
    public var threshold = 1.5
    /// A pixel changed when it differs from the background by more than this (0-255).
    public var noiseLevel = 32
    /// Analysed frames in a row with motion before an event starts.
    public var minimumMotionFrames = 1
    /// Seconds without motion that end an event; motion within continues it.
    public var eventGap: Duration = .seconds(60)
    /// Frames kept from before the motion, saved at the start of an event.
    public var preCapture: Duration = .seconds(2)
    /// Frames recorded after the last motion.
    public var postCapture: Duration = .seconds(2)
    /// Bound of the pre-capture ring in bytes, whatever `pre_capture` says.
    public var preCaptureMaxBytes = 32 * 1024 * 1024
    /// An event longer than this is closed and, if motion goes on, a new one starts.
    public var maxEventDuration: Duration = .seconds(600)
    /// Frames waiting to be written, in bytes; beyond it frames are dropped and counted.
    public var writeQueueMaxBytes = 16 * 1024 * 1024
    /// Parts of the picture ignored, in percent of width and height.
    public var masks: [MotionMask] = []
    public var onEventStart: HookConfig?
    public var onEventEnd: HookConfig?

    public init() {}
}

/// What runs when an event starts or ends.
public enum HookConfig: Sendable, Equatable {
    /// A program given the event as JSON on stdin, killed after `timeout`.
    case command(argv: [String], timeout: Duration)
    /// A POST of the event as JSON, retried `retries` times with backoff.
    case webhook(url: String, timeout: Duration, retries: Int)
}

/// Recorded motion events, server-wide (`events:`).
public struct MotionEventsConfig: Sendable, Equatable {
    /// Events older than this many days are deleted (0 keeps them forever).
    public var maxAgeDays = 30.0
    /// The events dir is kept under this many bytes, oldest events deleted first.
    public var maxBytes: Int64 = 10 * 1024 * 1024 * 1024
    /// Hook runs waiting, at most; more are dropped with a warning.
    public var hookQueue = 64

    public init() {}
}
