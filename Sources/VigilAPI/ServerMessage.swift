/// Every message the server sends on `/api/v1/events`, `/cameras/{id}/live`
/// and `/api/v1/live` (text messages; live frames are binary).
///
/// Each is one flat JSON object with a `type`; those that report a change
/// carry the global `version` the change was given.
public enum ServerMessage: Codable, Sendable, Equatable {
    /// First message on the events socket: who the server is and every camera.
    case hello(Hello)
    /// A camera's new state (also sent on a live socket's connect).
    case state(version: UInt64, camera: CameraState)
    /// Heartbeat, every 15 s, with the latest version.
    case ping(version: UInt64)
    /// The answer to a client's `ping`.
    case pong
    case error(SocketError)
    case motion(MotionChange)
    case capture(CaptureChange)
    case session(SessionChangeMessage)

    public struct Hello: Codable, Sendable, Equatable {
        /// Changes when the server restarts.
        public var serverID: String
        public var startedAt: String
        public var version: UInt64
        public var cameras: [CameraState]

        public init(serverID: String, startedAt: String, version: UInt64, cameras: [CameraState]) {
            self.serverID = serverID
            self.startedAt = startedAt
            self.version = version
            self.cameras = cameras
        }

        enum CodingKeys: String, CodingKey {
            case version, cameras
            case serverID = "server_id"
            case startedAt = "started_at"
        }
    }

    /// The value of `type`.
    public var type: String {
        switch self {
        case .hello: return "hello"
        case .state: return "state"
        case .ping: return "ping"
        case .pong: return "pong"
        case .error: return "error"
        case .motion(let change): return change.kind.rawValue
        case .capture(let change): return change.kind.rawValue
        case .session(let change): return change.kind.rawValue
        }
    }

    /// The camera the message concerns, if any (live sockets filter on it).
    public var camera: String? {
        switch self {
        case .state(_, let camera): return camera.id
        case .motion(let change): return change.camera
        case .capture(let change): return change.camera
        case .session(let change): return change.change.camera
        case .hello, .ping, .pong, .error: return nil
        }
    }

    /// The global version a message carries; nil for `pong` and `error`.
    public var version: UInt64? {
        switch self {
        case .hello(let hello): return hello.version
        case .state(let version, _), .ping(let version): return version
        case .motion(let change): return change.version
        case .capture(let change): return change.version
        case .session(let change): return change.version
        case .pong, .error: return nil
        }
    }

    private struct StateBody: Codable {
        var camera: CameraState
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .hello(let hello): try encodeTagged(hello, type: type, to: encoder)
        case .state(let version, let camera):
            try encodeTagged(StateBody(camera: camera), type: type, version: version, to: encoder)
        case .ping(let version): try encodeTag(type, version: version, to: encoder)
        case .pong: try encodeTag(type, to: encoder)
        case .error(let error): try encodeTagged(error, type: type, to: encoder)
        case .motion(let change): try change.encode(to: encoder)
        case .capture(let change): try change.encode(to: encoder)
        case .session(let change): try encodeTagged(change.change, type: type, version: change.version, to: encoder)
        }
    }

    public init(from decoder: any Decoder) throws {
        let tags = try decoder.container(keyedBy: TagKeys.self)
        let type = try tags.decode(String.self, forKey: .type)
        let version = try tags.decodeIfPresent(UInt64.self, forKey: .version)
        func versioned() throws -> UInt64 {
            guard let version else {
                throw DecodingError.keyNotFound(
                    TagKeys.version, .init(codingPath: decoder.codingPath, debugDescription: "\(type) needs a version"))
            }
            return version
        }
        switch type {
        case "hello": self = .hello(try Hello(from: decoder))
        case "state": self = .state(version: try versioned(), camera: try StateBody(from: decoder).camera)
        case "ping": self = .ping(version: version ?? 0)
        case "pong": self = .pong
        case "error": self = .error(try SocketError(from: decoder))
        default:
            if MotionChange.Kind(rawValue: type) != nil {
                self = .motion(try MotionChange(from: decoder))
            } else if CaptureChange.Kind(rawValue: type) != nil {
                self = .capture(try CaptureChange(from: decoder))
            } else if let kind = SessionChangeMessage.Kind(rawValue: type) {
                self = .session(
                    SessionChangeMessage(kind: kind, version: try versioned(), change: try SessionChange(from: decoder))
                )
            } else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown message type '\(type)'"))
            }
        }
    }
}

/// An error told over a socket: `{"type": "error", "code", "message"}`.
public struct SocketError: Codable, Sendable, Equatable, Error {
    public var code: String
    public var message: String
    /// The session concerned, on the ingest socket's `processing_failed`.
    public var sessionID: String?

    public init(code: String, message: String, sessionID: String? = nil) {
        self.code = code
        self.message = message
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case code, message
        case sessionID = "session_id"
    }
}

/// A record that a camera's change message carries: the key it is under
/// and the message types that carry it.
public protocol CameraChangeRecord: Codable, Sendable, Equatable {
    associatedtype ChangeKind: RawRepresentable, Codable, Sendable, Equatable where ChangeKind.RawValue == String
    /// The record's key next to `type`, `version` and `camera`.
    static var changeKey: String { get }
}

/// A camera's record changed: `{"type", "version", "camera", KEY: record}`
/// (`motion_*` with the event, `capture_*` with the capture).
public struct CameraRecordChange<Record: CameraChangeRecord>: Codable, Sendable, Equatable {
    public typealias Kind = Record.ChangeKind

    public var kind: Kind
    public var version: UInt64
    public var camera: String
    public var record: Record

    public init(kind: Kind, version: UInt64, camera: String, record: Record) {
        self.kind = kind
        self.version = version
        self.camera = camera
        self.record = record
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static var type: Key { Key(stringValue: "type") }
        static var version: Key { Key(stringValue: "version") }
        static var camera: Key { Key(stringValue: "camera") }
        static var record: Key { Key(stringValue: Record.changeKey) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: .type)
        guard let kind = Kind(rawValue: type) else {
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: container, debugDescription: "'\(type)' is not a \(Record.self) change")
        }
        self.kind = kind
        version = try container.decode(UInt64.self, forKey: .version)
        camera = try container.decode(String.self, forKey: .camera)
        record = try container.decode(Record.self, forKey: .record)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(kind.rawValue, forKey: .type)
        try container.encode(version, forKey: .version)
        try container.encode(camera, forKey: .camera)
        try container.encode(record, forKey: .record)
    }
}

extension MotionEvent: CameraChangeRecord {
    public enum ChangeKind: String, Codable, Sendable {
        case started = "motion_start"
        case ended = "motion_end"
    }

    public static let changeKey = "event"
}

extension Capture: CameraChangeRecord {
    public enum ChangeKind: String, Codable, Sendable {
        case started = "capture_started"
        case done = "capture_done"
        case failed = "capture_failed"
    }

    public static let changeKey = "capture"
}

/// `motion_start` / `motion_end`.
public typealias MotionChange = CameraRecordChange<MotionEvent>
/// `capture_started` / `capture_done` / `capture_failed`.
public typealias CaptureChange = CameraRecordChange<Capture>

/// `session_*` on the events socket.
public struct SessionChangeMessage: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case started = "session_started"
        case resumed = "session_resumed"
        case interrupted = "session_interrupted"
        case ended = "session_ended"
        case processing = "session_processing"
        case progress = "session_progress"
        case complete = "session_complete"
        case failed = "session_failed"
    }

    public var kind: Kind
    public var version: UInt64
    public var change: SessionChange

    public init(kind: Kind, version: UInt64, change: SessionChange) {
        self.kind = kind
        self.version = version
        self.change = change
    }
}

/// What a client may send on the live and events sockets.
public enum ClientMessage: Codable, Sendable, Equatable {
    case ping

    public static let acceptedTypes = "ping"

    /// The message in `data`, or the error to answer with.
    public static func decode(_ data: some Collection<UInt8>) throws(MessageDecodingError) -> ClientMessage {
        let type = try MessageDecodingError.type(of: data)
        guard type == "ping" else {
            throw MessageDecodingError(
                code: "unknown_type", message: "unknown message type '\(type.prefix(40))'; this socket accepts: ping")
        }
        return .ping
    }

    public init(from decoder: any Decoder) throws {
        let type = try TypeTag(from: decoder).type
        guard type == "ping" else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown type '\(type)'"))
        }
        self = .ping
    }

    public func encode(to encoder: any Encoder) throws {
        try encodeTag("ping", to: encoder)
    }
}
