import VigilAPI

/// One Engine.IO v4 text frame, and the Socket.IO v5 packet inside a
/// message (`4…`): what `SocketIOSource` reads. The formats are those of the
/// engine.io-protocol and socket.io-protocol specifications.
enum EngineIOPacket: Equatable {
    /// `0{…}`: the session is open; the server pings every `pingInterval`
    /// and the connection is dead after `pingInterval + pingTimeout` without one.
    case open(pingInterval: Duration, pingTimeout: Duration)
    /// `1`
    case close
    /// `2`: the server's heartbeat, answered `3`.
    case ping
    case pong
    /// `4…`
    case message(SocketIOPacket)
    /// `5`, `6` (upgrade, noop) and anything this client does not use.
    case other

    /// Reads a text frame; nil when it is not an Engine.IO packet at all.
    static func parse(_ text: String) -> EngineIOPacket? {
        guard let type = text.utf8.first else { return nil }
        let rest = Substring(text.utf8.dropFirst())
        switch type {
        case UInt8(ascii: "0"):
            guard case .object(let open)? = try? WireJSON.decode(JSONValue.self, from: String(rest)),
                case .int(let interval)? = open["pingInterval"], case .int(let timeout)? = open["pingTimeout"],
                interval > 0, timeout > 0, interval <= 3_600_000, timeout <= 3_600_000
            else { return nil }
            return .open(pingInterval: .milliseconds(interval), pingTimeout: .milliseconds(timeout))
        case UInt8(ascii: "1"): return .close
        case UInt8(ascii: "2"): return .ping
        case UInt8(ascii: "3"): return .pong
        case UInt8(ascii: "4"): return SocketIOPacket.parse(String(rest)).map { .message($0) }
        case UInt8(ascii: "5"), UInt8(ascii: "6"): return .other
        default: return nil
        }
    }
}

/// A Socket.IO v5 packet: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.
struct SocketIOPacket: Equatable {
    enum Kind: UInt8 {
        case connect = 0
        case disconnect = 1
        case event = 2
        case ack = 3
        case connectError = 4
        case binaryEvent = 5
        case binaryAck = 6
    }

    var kind: Kind
    /// Binary attachments that follow as WebSocket binary messages.
    var attachments: Int
    var namespace: String
    var ackID: Int?
    var data: JSONValue?

    static func parse(_ text: String) -> SocketIOPacket? {
        var bytes = Substring(text).utf8[...]
        guard let first = bytes.popFirst(), first >= UInt8(ascii: "0"),
            let kind = Kind(rawValue: first - UInt8(ascii: "0"))
        else { return nil }
        var attachments = 0
        if kind == .binaryEvent || kind == .binaryAck {
            guard let dash = bytes.firstIndex(of: UInt8(ascii: "-")),
                let count = Int(String(decoding: bytes[..<dash], as: UTF8.self)), (0...16).contains(count)
            else { return nil }
            attachments = count
            bytes = bytes[bytes.index(after: dash)...]
        }
        var namespace = "/"
        if bytes.first == UInt8(ascii: "/") {
            let comma = bytes.firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            namespace = String(decoding: bytes[..<comma], as: UTF8.self)
            bytes = comma == bytes.endIndex ? bytes[comma...] : bytes[bytes.index(after: comma)...]
        }
        var ackID: Int?
        while let byte = bytes.first, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), (ackID ?? 0) < 100_000_000 {
            ackID = (ackID ?? 0) * 10 + Int(byte - UInt8(ascii: "0"))
            bytes = bytes.dropFirst()
        }
        var data: JSONValue?
        if !bytes.isEmpty {
            guard let decoded = try? WireJSON.decode(JSONValue.self, from: bytes) else { return nil }
            data = decoded
        }
        return SocketIOPacket(kind: kind, attachments: attachments, namespace: namespace, ackID: ackID, data: data)
    }
}
