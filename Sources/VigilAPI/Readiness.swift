/// `GET /readyz`: whether every camera that should run is live.
public struct Readiness: Codable, Sendable, Equatable {
    public var ready: Bool
    /// Cameras whose `desired` is `running` but that are not `live`.
    public var waiting: [Waiting]

    public struct Waiting: Codable, Sendable, Equatable {
        public var id: String
        public var phase: CameraPhase
        public var lastError: String?

        public init(id: String, phase: CameraPhase, lastError: String?) {
            self.id = id
            self.phase = phase
            self.lastError = lastError
        }

        enum CodingKeys: String, CodingKey {
            case id, phase
            case lastError = "last_error"
        }
    }

    public init(cameras: [CameraState]) {
        waiting = cameras.filter { $0.desired == .running && $0.phase != .live }
            .map { Waiting(id: $0.id, phase: $0.phase, lastError: $0.lastError) }
        ready = waiting.isEmpty
    }
}
