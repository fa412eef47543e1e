/// `<prefix>/events`: a motion event started or ended.
public struct MotionNotice: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case start, end
    }

    public var type: Kind
    public var camera: String
    public var event: MotionEvent

    public init(type: Kind, camera: String, event: MotionEvent) {
        self.type = type
        self.camera = camera
        self.event = event
    }
}

/// `<prefix>/<camera>/result`: what became of a command sent to
/// `<prefix>/<camera>/set`.
public struct CommandResult: Codable, Sendable, Equatable {
    public var command: String
    public var ok: Bool
    public var error: String?

    public init(command: String, ok: Bool, error: String? = nil) {
        self.command = command
        self.ok = ok
        self.error = error
    }
}

/// `GET /api/v1/mqtt`: the connection to the broker.
public struct BrokerStatus: Codable, Sendable, Equatable {
    public var broker: String
    public var connected: Bool
    public var lastError: String?
    public var connections: Int
    public var queued: Int
    public var dropped: Int

    public init(broker: String, connected: Bool, lastError: String?, connections: Int, queued: Int, dropped: Int) {
        self.broker = broker
        self.connected = connected
        self.lastError = lastError
        self.connections = connections
        self.queued = queued
        self.dropped = dropped
    }

    enum CodingKeys: String, CodingKey {
        case broker, connected, connections, queued, dropped
        case lastError = "last_error"
    }
}
