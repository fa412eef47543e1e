import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An upload session as the database keeps it.
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

    /// As the API shows it.
    public var wire: Session {
        Session(
            sessionID: id, camera: camera, state: state, frames: frames, bytes: bytes,
            createdAt: ISO8601.string(Date(timeIntervalSince1970: createdAt)),
            updatedAt: ISO8601.string(Date(timeIntervalSince1970: updatedAt)), attachments: attachments,
            progress: progressStage.map { SessionProgress(stage: $0, percent: progressPercent ?? 0) }, error: error,
            metadata: metadata.flatMap { try? WireJSON.decode(JSONValue.self, from: $0) })
    }

    /// As the events socket tells it (`session_*`).
    public var change: SessionChange {
        SessionChange(
            sessionID: id, camera: camera, state: state, frames: frames, bytes: bytes, stage: progressStage,
            percent: progressPercent, error: error)
    }
}
