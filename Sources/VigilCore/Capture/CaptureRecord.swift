import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A capture as the database keeps it.
public struct CaptureRecord: Sendable, Equatable {
    public var id: String
    public var camera: String
    public var status: CaptureStatus
    /// Times since 1970, in seconds.
    public var requestedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var bytes: Int?
    public var width: Int?
    public var height: Int?
    /// The image file's name in the captures dir (set once it is complete).
    public var file: String?
    public var error: String?
    /// In a cluster: the node that took it and keeps its file (nil: this one).
    public var node: String?

    public init(id: String, camera: String, requestedAt: Date = Date()) {
        self.id = id
        self.camera = camera
        self.status = .pending
        self.requestedAt = requestedAt.timeIntervalSince1970
    }

    /// Seconds from start to finish, when both are known.
    public var durationSeconds: Double? {
        guard let startedAt, let finishedAt else { return nil }
        return finishedAt - startedAt
    }

    /// As the API shows it: ISO 8601 times, the image's path once done.
    public var wire: Capture {
        Capture(
            id: id, camera: camera, status: status, requestedAt: ISO8601.string(seconds: requestedAt) ?? "",
            startedAt: ISO8601.string(seconds: startedAt), finishedAt: ISO8601.string(seconds: finishedAt),
            durationMs: durationSeconds.map { Int(($0 * 1000).rounded()) }, bytes: bytes, width: width,
            height: height, error: error)
    }

}

/// Why a capture request was refused, or a capture failed.
public enum CaptureError: Error, Sendable, Equatable {
    /// The camera is stopped.
    case cameraStopped
    /// The queue is full.
    case queueFull(limit: Int)
    /// No frame younger than `max_frame_age` came within the timeout.
    case noFreshFrame(waited: Duration)
    /// The command failed: its message (stderr's last line or exit status).
    case failed(String)
    case timedOut(Duration)
    case shuttingDown
    /// The data directory is full: nothing was queued.
    case storageFull(String)
    /// In a cluster: another node holds the camera.
    case elsewhere

    public var code: String {
        switch self {
        case .cameraStopped: return "camera_stopped"
        case .queueFull: return "queue_full"
        case .noFreshFrame: return "no_fresh_frame"
        case .failed: return "capture_failed"
        case .timedOut: return "timeout"
        case .shuttingDown: return "shutting_down"
        case .storageFull: return "storage_full"
        case .elsewhere: return "camera_elsewhere"
        }
    }

    public var message: String {
        switch self {
        case .cameraStopped: return "the camera is stopped; start it to capture"
        case .queueFull(let limit): return "\(limit) captures are already waiting (capture.queue); try again later"
        case .noFreshFrame(let waited):
            return "no_fresh_frame: no frame younger than max_frame_age arrived within \(waited)"
        case .failed(let message): return message
        case .timedOut(let timeout): return "timeout: the capture did not finish within \(timeout)"
        case .shuttingDown: return "the server is shutting down"
        case .storageFull(let cause): return StorageFull.message(cause)
        case .elsewhere: return "another node of the cluster runs this camera; ask that node"
        }
    }
}

/// Takes a still into a file: a command such as
/// `gphoto2 --capture-image-and-download --filename {output}`.
public protocol StillCapturer: Sendable {
    /// Writes the image to `path`; throws `CaptureError.failed` with a
    /// message worth showing. Cancelling the task stops the capture.
    func capture(to path: String) async throws
}
