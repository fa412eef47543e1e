#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

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

/// An upload session as the API shows it and the database keeps it.
public struct SessionRecord: Sendable, Equatable {
    public var id: String
    public var camera: String?
    public var state: SessionState
    /// Frames and bytes durably stored (acked).
    public var frames: Int
    public var bytes: Int64
    public var createdAt: Double
    public var updatedAt: Double
    /// The client's `metadata`, as JSON text.
    public var metadata: String?
    /// Attachment names, in arrival order.
    public var attachments: [String]
    public var progressStage: String?
    public var progressPercent: Double?
    public var error: String?

    public init(id: String, camera: String?, metadata: String?, now: Date = Date()) {
        self.id = id
        self.camera = camera
        self.state = .receiving
        self.frames = 0
        self.bytes = 0
        self.createdAt = now.timeIntervalSince1970
        self.updatedAt = createdAt
        self.metadata = metadata
        self.attachments = []
    }

    /// A new session id: time-ordered, URL-safe, unique.
    public static func newID() -> String {
        "s" + CaptureRecord.newID()
    }

    public static func isValidID(_ id: String) -> Bool {
        CaptureRecord.isValidID(id)
    }

    /// The JSON object the API and the socket show.
    public var json: [String: Any] {
        var object: [String: Any] = [
            "session_id": id, "state": state.rawValue, "frames": frames, "bytes": bytes,
            "created_at": ISO8601.string(Date(timeIntervalSince1970: createdAt)),
            "updated_at": ISO8601.string(Date(timeIntervalSince1970: updatedAt)),
            "attachments": attachments,
        ]
        object["camera"] = camera ?? JSONNull()
        object["error"] = error ?? JSONNull()
        if let progressStage {
            object["progress"] = ["stage": progressStage, "percent": progressPercent ?? 0]
        } else {
            object["progress"] = JSONNull()
        }
        if let metadata, let parsed = JSONText.parse(metadata) {
            object["metadata"] = parsed
        } else {
            object["metadata"] = JSONNull()
        }
        return object
    }
}
