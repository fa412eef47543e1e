/// A camera's lease as the database has it.
public struct CameraLease: Sendable, Equatable {
    public var camera: String
    public var node: String
    /// Raised by every change of owner: a node fences its writes and
    /// releases with the generation it took.
    public var generation: Int
    public var expired: Bool
    /// Seconds until it expires (by the database's clock; negative once expired).
    public var expiresIn: Double

    public init(camera: String, node: String, generation: Int, expired: Bool, expiresIn: Double = 0) {
        self.camera = camera
        self.node = node
        self.generation = generation
        self.expired = expired
        self.expiresIn = expiresIn
    }
}
