/// Where a capture is.
public enum CaptureStatus: String, Sendable, Codable {
    case pending
    case running
    case done
    case failed
}

/// A capture as the API shows it (`/api/v1/captures`, `capture_*` messages).
public struct Capture: Codable, Sendable, Equatable {
    public var id: String
    public var camera: String
    public var status: CaptureStatus
    /// ISO 8601 times.
    public var requestedAt: String
    public var startedAt: String?
    public var finishedAt: String?
    public var durationMs: Int?
    public var bytes: Int?
    public var width: Int?
    public var height: Int?
    public var error: String?
    /// The image's path, once the capture is done.
    public var image: String?

    public init(
        id: String, camera: String, status: CaptureStatus, requestedAt: String, startedAt: String? = nil,
        finishedAt: String? = nil, durationMs: Int? = nil, bytes: Int? = nil, width: Int? = nil,
        height: Int? = nil, error: String? = nil
    ) {
        self.id = id
        self.camera = camera
        self.status = status
        self.requestedAt = requestedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.bytes = bytes
        self.width = width
        self.height = height
        self.error = error
        self.image = status == .done ? APIPath.captureImage(id) : nil
    }

    /// Whether the capture has ended, well or not.
    public var isFinished: Bool { status == .done || status == .failed }

    enum CodingKeys: String, CodingKey {
        case id, camera, status
        case requestedAt = "requested_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case durationMs = "duration_ms"
        case bytes, width, height, error, image
    }

    /// Every field, null ones too: the documented shape has no optional keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(camera, forKey: .camera)
        try container.encode(status, forKey: .status)
        try container.encode(requestedAt, forKey: .requestedAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(error, forKey: .error)
        try container.encode(image, forKey: .image)
    }
}

/// What `GET /api/v1/cameras/{id}/capture/status` shows.
public struct CaptureActivity: Codable, Sendable, Equatable {
    public var isCapturing: Bool
    public var captureID: String?
    public var startedAt: String?
    public var elapsedSeconds: Double?
    public var queued: Int

    public init(
        isCapturing: Bool, captureID: String? = nil, startedAt: String? = nil, elapsedSeconds: Double? = nil,
        queued: Int
    ) {
        self.isCapturing = isCapturing
        self.captureID = captureID
        self.startedAt = startedAt
        self.elapsedSeconds = elapsedSeconds
        self.queued = queued
    }

    enum CodingKeys: String, CodingKey {
        case isCapturing = "is_capturing"
        case captureID = "capture_id"
        case startedAt = "started_at"
        case elapsedSeconds = "elapsed_seconds"
        case queued
    }
}
