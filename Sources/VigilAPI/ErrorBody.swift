/// The body of every HTTP error: `{"error": CODE, "message": TEXT}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    /// A stable, machine-readable code such as `unknown_camera`.
    public var error: String
    /// A sentence for a person.
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}

/// What `POST /api/v1/cameras/{id}/frames` answers: the frame as published.
public struct PushedFrame: Codable, Sendable, Equatable {
    public var seq: UInt64
    public var width: Int
    public var height: Int
    public var bytes: Int

    public init(seq: UInt64, width: Int, height: Int, bytes: Int) {
        self.seq = seq
        self.width = width
        self.height = height
        self.bytes = bytes
    }
}
