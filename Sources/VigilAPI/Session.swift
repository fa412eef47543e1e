/// Where an upload session is.
public enum SessionState: String, Sendable, Codable {
    /// A socket is sending frames.
    case receiving
    /// The socket dropped before `session_end`; resumable for `resume_window`.
    case interrupted
    /// `session_end` came; the processing command runs.
    case processing
    case complete
    case failed
}

/// An upload session as the API shows it (`/api/v1/sessions`, the ingest
/// socket's `session_status`).
public struct Session: Codable, Sendable, Equatable {
    public var sessionID: String
    public var camera: String?
    public var state: SessionState
    /// Frames and bytes durably stored (acked).
    public var frames: Int
    public var bytes: Int64
    /// ISO 8601 times.
    public var createdAt: String
    public var updatedAt: String
    /// Attachment names, in arrival order.
    public var attachments: [String]
    public var progress: SessionProgress?
    public var error: String?
    /// The client's `metadata`, as it sent it.
    public var metadata: JSONValue?

    public init(
        sessionID: String, camera: String?, state: SessionState, frames: Int, bytes: Int64, createdAt: String,
        updatedAt: String, attachments: [String], progress: SessionProgress?, error: String?, metadata: JSONValue?
    ) {
        self.sessionID = sessionID
        self.camera = camera
        self.state = state
        self.frames = frames
        self.bytes = bytes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.attachments = attachments
        self.progress = progress
        self.error = error
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case camera, state, frames, bytes, attachments, progress, error, metadata
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Every field, null ones too: the documented shape has no optional keys.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sessionID, forKey: .sessionID)
        try container.encode(camera, forKey: .camera)
        try container.encode(state, forKey: .state)
        try container.encode(frames, forKey: .frames)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(attachments, forKey: .attachments)
        try container.encode(progress, forKey: .progress)
        try container.encode(error, forKey: .error)
        try container.encode(metadata ?? .null, forKey: .metadata)
    }
}

/// How far a session's processing command is: its last `progress` line.
public struct SessionProgress: Codable, Sendable, Equatable {
    public var stage: String
    public var percent: Double

    public init(stage: String, percent: Double) {
        self.stage = stage
        self.percent = percent
    }
}

/// A session's change on the events socket (`session_*`): the counters,
/// not the metadata.
public struct SessionChange: Codable, Sendable, Equatable {
    public var sessionID: String
    public var camera: String?
    public var state: SessionState
    public var frames: Int
    public var bytes: Int64
    public var stage: String?
    public var percent: Double?
    public var error: String?

    public init(
        sessionID: String, camera: String?, state: SessionState, frames: Int, bytes: Int64, stage: String?,
        percent: Double?, error: String?
    ) {
        self.sessionID = sessionID
        self.camera = camera
        self.state = state
        self.frames = frames
        self.bytes = bytes
        self.stage = stage
        self.percent = percent
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case camera, state, frames, bytes, stage, percent, error
    }
}
