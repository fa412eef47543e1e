#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

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

/// A motion event as the API shows it and the database keeps it.
public struct MotionEventRecord: Sendable, Encodable, Equatable {
    public var id: String
    public var camera: String
    public var status: MotionEventStatus = .recording
    /// Wall time (seconds since 1970) of the first analysed frame with motion.
    public var startedAt: Double
    /// Wall time of the last frame saved (or of the end, without frames).
    public var endedAt: Double?
    /// Wall time of the first frame saved (a pre-capture frame, if any).
    public var firstFrameAt: Double?
    /// Largest changed fraction seen, in percent.
    public var peakPercent: Double = 0
    /// Frames in the clip, and how many of them came before the motion.
    public var frames = 0
    public var preFrames = 0
    /// Bytes on disk: clip and thumbnail.
    public var bytes: Int64 = 0
    public var width: Int?
    public var height: Int?
    /// Frames not written because the disk could not keep up (bounded queue).
    public var droppedFrames = 0
    /// No frame younger than `max_frame_age` when the event started.
    public var noFreshFrame = false
    /// Times the camera went stale (no frame for `max_frame_age`) during the event.
    public var staleGaps = 0
    /// Why it ended: `no_motion`, `max_duration`, `shutdown`, `interrupted`.
    public var endReason: String?
    /// File names in the events dir, set once each file is complete.
    public var clip: String?
    public var thumbnail: String?

    public init(id: String, camera: String, startedAt: Double) {
        self.id = id
        self.camera = camera
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, camera, status, frames, bytes, width, height
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
        case thumbnailURL = "thumbnail"
        case clipURL = "clip"
    }

    /// As the API shows it: ISO 8601 times, URLs of the files that exist.
    public func encode(to encoder: any Encoder) throws {
        let iso = ISO8601.string(seconds:)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(camera, forKey: .camera)
        try container.encode(status, forKey: .status)
        try container.encode(iso(startedAt), forKey: .startedAt)
        try container.encode(iso(endedAt), forKey: .endedAt)
        try container.encode(iso(firstFrameAt), forKey: .firstFrameAt)
        try container.encode(endedAt.map { Int((($0 - startedAt) * 1000).rounded()) }, forKey: .durationMs)
        try container.encode((peakPercent * 100).rounded() / 100, forKey: .peakPercent)
        try container.encode(frames, forKey: .frames)
        try container.encode(preFrames, forKey: .preFrames)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(droppedFrames, forKey: .droppedFrames)
        try container.encode(noFreshFrame, forKey: .noFreshFrame)
        try container.encode(staleGaps, forKey: .staleGaps)
        try container.encode(endReason, forKey: .endReason)
        try container.encode(thumbnail == nil ? nil : "/api/v1/events/\(id)/thumbnail.jpg", forKey: .thumbnailURL)
        try container.encode(clip == nil ? nil : "/api/v1/events/\(id)/clip.mjpg", forKey: .clipURL)
    }

    /// A new event id: time-ordered, URL-safe, unique (the capture id shape).
    public static func newID(now: Date = Date()) -> String { CaptureRecord.newID(now: now) }

    public static func isValidID(_ id: String) -> Bool { CaptureRecord.isValidID(id) }
}
