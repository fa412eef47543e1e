import VigilAPI

/// What one node tells the others through PostgreSQL `NOTIFY` (`ClusterBridge`).
struct ClusterNotice: Codable, Sendable {
    /// The node that sent it.
    var node: String
    /// A state of a camera it runs, or a motion or capture change it made.
    var message: ServerMessage?
    /// "Tell me the states of the cameras you run" (a node that just
    /// started listening, or listens again after losing the database).
    var sync: Bool?
    /// A start or stop asked of the sender and stored.
    var desired: DesiredChange?
}

/// A camera's desired state, as one node was asked to set it.
struct DesiredChange: Codable, Sendable {
    var camera: String
    var desired: DesiredState
}
