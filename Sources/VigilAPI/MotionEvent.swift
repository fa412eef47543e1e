/// Where a recorded motion event is.
public enum MotionEventStatus: String, Sendable, Codable {
    /// Frames are being written; the clip is not complete yet.
    case recording
    /// Ended normally; clip and thumbnail complete.
    case complete
    /// The server stopped during the event; the clip holds the frames
    /// written until then (cut at the last whole frame).
    case interrupted
}

/// A recorded motion event as the API shows it (`GET /api/v1/events`,
/// `motion_*` messages).
public struct MotionEvent: Codable, Sendable, Equatable {
    public var id: String
    public var camera: String
    public var status: MotionEventStatus
    /// ISO 8601 times: first frame with motion, last frame saved, first
    /// frame saved (a pre-capture frame, if any).
    public var startedAt: String
    public var endedAt: String?
    public var firstFrameAt: String?
    public var durationMs: Int?
    /// Largest changed fraction seen, in percent (two decimals).
    public var peakPercent: Double
    public var frames: Int
    public var preFrames: Int
    public var bytes: Int64
    public var width: Int?
    public var height: Int?
    public var droppedFrames: Int
    public var noFreshFrame: Bool
    public var staleGaps: Int
    /// `no_motion`, `max_duration`, `shutdown`, `interrupted`.
    public var endReason: String?
    /// Paths of the files that exist.
    public var thumbnail: String?
    public var clip: String?

    public init(
        id: String, camera: String, status: MotionEventStatus, startedAt: String, endedAt: String?,
        firstFrameAt: String?, durationMs: Int?, peakPercent: Double, frames: Int, preFrames: Int, bytes: Int64,
        width: Int?, height: Int?, droppedFrames: Int, noFreshFrame: Bool, staleGaps: Int, endReason: String?,
        hasThumbnail: Bool, hasClip: Bool
    ) {
        self.id = id
        self.camera = camera
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.firstFrameAt = firstFrameAt
        self.durationMs = durationMs
        self.peakPercent = (peakPercent * 100).rounded() / 100
        self.frames = frames
        self.preFrames = preFrames
        self.bytes = bytes
        self.width = width
        self.height = height
        self.droppedFrames = droppedFrames
        self.noFreshFrame = noFreshFrame
        self.staleGaps = staleGaps
        self.endReason = endReason
        self.thumbnail = hasThumbnail ? APIPath.motionEventThumbnail(id) : nil
        self.clip = hasClip ? APIPath.motionEventClip(id) : nil
    }

    enum CodingKeys: String, CodingKey {
        case id, camera, status, frames, bytes, width, height, thumbnail, clip
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case firstFrameAt = "first_frame_at"
        case durationMs = "duration_ms"
        case peakPercent = "peak_percent"
        case preFrames = "pre_frames"
        case droppedFrames = "dropped_frames"
        case noFreshFrame = "no_fresh_frame"
        case staleGaps = "stale_gaps"
        case endReason = "end_reason"
    }

    /// Every field, null ones too: the documented shape has no optional keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(camera, forKey: .camera)
        try container.encode(status, forKey: .status)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(endedAt, forKey: .endedAt)
        try container.encode(firstFrameAt, forKey: .firstFrameAt)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(peakPercent, forKey: .peakPercent)
        try container.encode(frames, forKey: .frames)
        try container.encode(preFrames, forKey: .preFrames)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(droppedFrames, forKey: .droppedFrames)
        try container.encode(noFreshFrame, forKey: .noFreshFrame)
        try container.encode(staleGaps, forKey: .staleGaps)
        try container.encode(endReason, forKey: .endReason)
        try container.encode(thumbnail, forKey: .thumbnail)
        try container.encode(clip, forKey: .clip)
    }
}

/// What `GET /api/v1/cameras/{id}/motion` shows: the detector's counters.
public struct MotionStatus: Codable, Sendable, Equatable {
    public var analysed: Int
    public var skipped: Int
    public var lastPercent: Double
    public var threshold: Double
    public var inEvent: Bool
    public var ringFrames: Int
    public var ringBytes: Int
    public var ringMaxBytes: Int
    public var writeQueueBytes: Int

    public init(
        analysed: Int, skipped: Int, lastPercent: Double, threshold: Double, inEvent: Bool, ringFrames: Int,
        ringBytes: Int, ringMaxBytes: Int, writeQueueBytes: Int
    ) {
        self.analysed = analysed
        self.skipped = skipped
        self.lastPercent = (lastPercent * 100).rounded() / 100
        self.threshold = threshold
        self.inEvent = inEvent
        self.ringFrames = ringFrames
        self.ringBytes = ringBytes
        self.ringMaxBytes = ringMaxBytes
        self.writeQueueBytes = writeQueueBytes
    }

    enum CodingKeys: String, CodingKey {
        case analysed, skipped, threshold
        case lastPercent = "last_percent"
        case inEvent = "in_event"
        case ringFrames = "ring_frames"
        case ringBytes = "ring_bytes"
        case ringMaxBytes = "ring_max_bytes"
        case writeQueueBytes = "write_queue_bytes"
    }
}
