#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
/// What the operator wants: persisted so a restart restores it.
public enum DesiredState: String, Sendable, Codable {
    case running
    case stopped
}

/// What the camera is doing now.
public enum CameraPhase: String, Sendable, Codable, CaseIterable {
    case stopped
    case starting
    case live
    case stale
    case recovering
    case capturing
}

/// A camera's state as the API shows it (snake_case JSON).
public struct CameraState: Sendable, Codable, Equatable {
    public var id: String
    public var kind: String
    public var desired: DesiredState
    public var phase: CameraPhase
    /// When `phase` last changed (ISO 8601).
    public var since: String
    /// Global version of this state; increases on every change of any camera.
    public var version: UInt64
    public var fps: Double
    public var width: Int?
    public var height: Int?
    public var lastFrameSeq: UInt64?
    public var lastFrameAgeMs: Int?
    public var clients: Int
    public var restarts: Int
    public var lastError: String?
    /// In a cluster: the node running the camera (none while no node does).
    public var owner: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, desired, phase, since, version, fps, width, height
        case lastFrameSeq = "last_frame_seq"
        case lastFrameAgeMs = "last_frame_age_ms"
        case clients, restarts
        case lastError = "last_error"
        case owner
    }

    public init(
        id: String, kind: String, desired: DesiredState, phase: CameraPhase, since: String, version: UInt64,
        fps: Double, width: Int? = nil, height: Int? = nil, lastFrameSeq: UInt64? = nil, lastFrameAgeMs: Int? = nil,
        clients: Int, restarts: Int, lastError: String? = nil, owner: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.desired = desired
        self.phase = phase
        self.since = since
        self.version = version
        self.fps = fps
        self.width = width
        self.height = height
        self.lastFrameSeq = lastFrameSeq
        self.lastFrameAgeMs = lastFrameAgeMs
        self.clients = clients
        self.restarts = restarts
        self.lastError = lastError
        self.owner = owner
    }
}
