import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A recorded motion event as the database keeps it.
public struct MotionEventRecord: Sendable, Equatable {
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
    /// In a cluster: the node that recorded it and keeps its files (nil: this one).
    public var node: String?

    public init(id: String, camera: String, startedAt: Double) {
        self.id = id
        self.camera = camera
        self.startedAt = startedAt
    }

    /// As the API shows it: ISO 8601 times, paths of the files that exist.
    public var wire: MotionEvent {
        MotionEvent(
            id: id, camera: camera, status: status, startedAt: ISO8601.string(seconds: startedAt) ?? "",
            endedAt: ISO8601.string(seconds: endedAt), firstFrameAt: ISO8601.string(seconds: firstFrameAt),
            durationMs: endedAt.map { Int((($0 - startedAt) * 1000).rounded()) }, peakPercent: peakPercent,
            frames: frames, preFrames: preFrames, bytes: bytes, width: width, height: height,
            droppedFrames: droppedFrames, noFreshFrame: noFreshFrame, staleGaps: staleGaps, endReason: endReason,
            hasThumbnail: thumbnail != nil, hasClip: clip != nil)
    }
}
