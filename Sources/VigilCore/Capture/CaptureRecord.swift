#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Where a capture is.
public enum CaptureStatus: String, Sendable, Codable {
    case pending
    case running
    case done
    case failed
}

/// A capture as the API shows it and the database keeps it (snake_case JSON).
public struct CaptureRecord: Sendable, Encodable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case id, camera, status
        case requestedAt = "requested_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationMs = "duration_ms"
        case bytes, width, height, error, image
    }

    /// As the API shows it: ISO 8601 times, the image's URL once done.
    public func encode(to encoder: any Encoder) throws {
        let iso = ISO8601.string(seconds:)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(camera, forKey: .camera)
        try container.encode(status, forKey: .status)
        try container.encode(iso(requestedAt), forKey: .requestedAt)
        try container.encode(iso(startedAt), forKey: .startedAt)
        try container.encode(iso(finishedAt), forKey: .finishedAt)
        try container.encode(durationSeconds.map { Int(($0 * 1000).rounded()) }, forKey: .durationMs)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(error, forKey: .error)
        try container.encode(status == .done ? "/api/v1/captures/\(id)/image.jpg" : nil, forKey: .image)
    }

    /// A new capture id: time-ordered, URL-safe, unique.
    public static func newID(now: Date = Date()) -> String {
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        let random = UInt32.random(in: 0...UInt32.max)
        return String(millis, radix: 36) + "-" + String(random, radix: 36)
    }

    /// Whether `id` has the shape of a capture id (checked before any lookup).
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 40
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
    }
}

/// Why a capture request was refused, or a capture failed.
public enum CaptureError: Error, Sendable, Equatable {
    /// The camera is stopped (409).
    case cameraStopped
    /// The queue is full (429).
    case queueFull(limit: Int)
    /// No frame younger than `max_frame_age` came within the timeout.
    case noFreshFrame(waited: Duration)
    /// The command failed: its message (stderr's last line or exit status).
    case failed(String)
    case timedOut(Duration)
    case shuttingDown
    /// The data directory is full (507): nothing was queued.
    case storageFull(String)

    public var code: String {
        switch self {
        case .cameraStopped: return "camera_stopped"
        case .queueFull: return "queue_full"
        case .noFreshFrame: return "no_fresh_frame"
        case .failed: return "capture_failed"
        case .timedOut: return "timeout"
        case .shuttingDown: return "shutting_down"
        case .storageFull: return "storage_full"
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
