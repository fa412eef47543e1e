/// What a client sends on `WS /api/v1/ingest` (text messages; frames are
/// binary messages, one JPEG each).
public enum IngestRequest: Codable, Sendable, Equatable {
    /// Starts a session, or resumes `sessionID`.
    case start(Start)
    case attachment(Attachment)
    /// Ends the session; `frames` (if given) is checked against what was stored.
    case end(frames: Int?)
    /// Asks for a session's record (and its processing messages while it runs).
    case status(sessionID: String)

    public struct Start: Codable, Sendable, Equatable {
        public var sessionID: String?
        /// A push camera to show the frames on while they arrive.
        public var camera: String?
        public var metadata: JSONValue?

        public init(sessionID: String? = nil, camera: String? = nil, metadata: JSONValue? = nil) {
            self.sessionID = sessionID
            self.camera = camera
            self.metadata = metadata
        }

        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case camera, metadata
        }
    }

    public struct Attachment: Codable, Sendable, Equatable {
        public enum Encoding: String, Codable, Sendable {
            case utf8
            case base64
        }

        public var name: String
        public var data: String
        /// `utf8` when absent.
        public var encoding: Encoding?

        public init(name: String, data: String, encoding: Encoding? = nil) {
            self.name = name
            self.data = data
            self.encoding = encoding
        }
    }

    private struct EndBody: Codable {
        var frames: Int?
    }

    private struct StatusBody: Codable {
        var sessionID: String
        enum CodingKeys: String, CodingKey { case sessionID = "session_id" }
    }

    public static let acceptedTypes = "session_start, attachment, session_end or session_status"

    /// The message in `data`, or the error to answer with.
    public static func decode(_ data: some Collection<UInt8>) throws(MessageDecodingError) -> IngestRequest {
        let type = try MessageDecodingError.type(of: data)
        func body<T: Decodable>(_: T.Type, code: String, _ explanation: String) throws(MessageDecodingError) -> T {
            do {
                return try WireJSON.decode(T.self, from: data)
            } catch {
                throw MessageDecodingError(code: code, message: explanation)
            }
        }
        switch type {
        case "session_start":
            return .start(
                try body(
                    Start.self, code: "bad_message",
                    "session_start takes an optional string \"session_id\", string \"camera\" and JSON \"metadata\""))
        case "attachment":
            return .attachment(
                try body(
                    Attachment.self, code: "bad_attachment",
                    "an attachment needs a string \"name\", a string \"data\" and an \"encoding\" of \"utf8\" or \"base64\""
                ))
        case "session_end":
            return .end(
                frames: try body(EndBody.self, code: "bad_message", "session_end takes an optional integer \"frames\"")
                    .frames)
        case "session_status":
            return .status(
                sessionID: try body(StatusBody.self, code: "unknown_session", "session_status needs a \"session_id\"")
                    .sessionID)
        default:
            throw MessageDecodingError(
                code: "unknown_type", message: "unknown message type '\(type.prefix(40))'; expected \(acceptedTypes)")
        }
    }

    public init(from decoder: any Decoder) throws {
        let type = try TypeTag(from: decoder).type
        switch type {
        case "session_start": self = .start(try Start(from: decoder))
        case "attachment": self = .attachment(try Attachment(from: decoder))
        case "session_end": self = .end(frames: try EndBody(from: decoder).frames)
        case "session_status": self = .status(sessionID: try StatusBody(from: decoder).sessionID)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown type '\(type)'"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .start(let start): try encodeTagged(start, type: "session_start", to: encoder)
        case .attachment(let attachment): try encodeTagged(attachment, type: "attachment", to: encoder)
        case .end(let frames): try encodeTagged(EndBody(frames: frames), type: "session_end", to: encoder)
        case .status(let id): try encodeTagged(StatusBody(sessionID: id), type: "session_status", to: encoder)
        }
    }
}

/// What the server answers on `WS /api/v1/ingest`.
public enum IngestReply: Codable, Sendable, Equatable {
    /// The session runs; send frames from `nextSeq` on.
    case started(Started)
    /// Frames durably stored so far.
    case ack(received: Int, bytes: Int64)
    case attachmentSaved(name: String, bytes: Int)
    case ended(SessionTotals)
    case status(Session)
    /// The processing command's progress.
    case progress(sessionID: String, stage: String, percent: Double)
    /// Processing finished well.
    case complete(SessionTotals)
    case error(SocketError)

    public struct Started: Codable, Sendable, Equatable {
        public var sessionID: String
        public var nextSeq: Int
        /// True when an interrupted session was resumed.
        public var resumed: Bool?

        public init(sessionID: String, nextSeq: Int, resumed: Bool? = nil) {
            self.sessionID = sessionID
            self.nextSeq = nextSeq
            self.resumed = resumed
        }

        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case nextSeq = "next_seq"
            case resumed
        }
    }

    public struct SessionTotals: Codable, Sendable, Equatable {
        public var sessionID: String
        public var frames: Int
        public var bytes: Int64

        public init(sessionID: String, frames: Int, bytes: Int64) {
            self.sessionID = sessionID
            self.frames = frames
            self.bytes = bytes
        }

        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case frames, bytes
        }
    }

    private struct AckBody: Codable {
        var received: Int
        var bytes: Int64
    }

    private struct AttachmentBody: Codable {
        var name: String
        var bytes: Int
    }

    private struct ProgressBody: Codable {
        var sessionID: String
        var stage: String
        var percent: Double
        enum CodingKeys: String, CodingKey {
            case sessionID = "session_id"
            case stage, percent
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .started(let started): try encodeTagged(started, type: "session_started", to: encoder)
        case .ack(let received, let bytes):
            try encodeTagged(AckBody(received: received, bytes: bytes), type: "ack", to: encoder)
        case .attachmentSaved(let name, let bytes):
            try encodeTagged(AttachmentBody(name: name, bytes: bytes), type: "attachment_saved", to: encoder)
        case .ended(let totals): try encodeTagged(totals, type: "session_ended", to: encoder)
        case .status(let session): try encodeTagged(session, type: "session_status", to: encoder)
        case .progress(let id, let stage, let percent):
            try encodeTagged(ProgressBody(sessionID: id, stage: stage, percent: percent), type: "progress", to: encoder)
        case .complete(let totals): try encodeTagged(totals, type: "complete", to: encoder)
        case .error(let error): try encodeTagged(error, type: "error", to: encoder)
        }
    }

    public init(from decoder: any Decoder) throws {
        let type = try TypeTag(from: decoder).type
        switch type {
        case "session_started": self = .started(try Started(from: decoder))
        case "ack":
            let body = try AckBody(from: decoder)
            self = .ack(received: body.received, bytes: body.bytes)
        case "attachment_saved":
            let body = try AttachmentBody(from: decoder)
            self = .attachmentSaved(name: body.name, bytes: body.bytes)
        case "session_ended": self = .ended(try SessionTotals(from: decoder))
        case "session_status": self = .status(try Session(from: decoder))
        case "progress":
            let body = try ProgressBody(from: decoder)
            self = .progress(sessionID: body.sessionID, stage: body.stage, percent: body.percent)
        case "complete": self = .complete(try SessionTotals(from: decoder))
        case "error": self = .error(try SocketError(from: decoder))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown type '\(type)'"))
        }
    }
}
