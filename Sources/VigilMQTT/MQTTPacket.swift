import NIOCore

/// The MQTT 3.1.1 control packets this client sends and reads (OASIS
/// standard, section 3): a fixed header (type and flags, then the remaining
/// length as a base-128 varint of 1-4 bytes), a variable header and a
/// payload, with strings as a big-endian 16-bit length and UTF-8 bytes.
public enum MQTTPacket: Equatable, Sendable {
    case connect(Connect)
    case connack(sessionPresent: Bool, returnCode: UInt8)
    case publish(Publish)
    case puback(packetID: UInt16)
    case subscribe(packetID: UInt16, topics: [(filter: String, qos: UInt8)])
    case suback(packetID: UInt16, returnCodes: [UInt8])
    case pingreq
    case pingresp
    case disconnect

    public struct Connect: Equatable, Sendable {
        public var clientID: String
        public var keepAliveSeconds: UInt16
        public var cleanSession = true
        public var will: Publish?
        public var username: String?
        public var password: String?

        public init(clientID: String, keepAliveSeconds: UInt16) {
            self.clientID = clientID
            self.keepAliveSeconds = keepAliveSeconds
        }
    }

    public struct Publish: Equatable, Sendable {
        public var topic: String
        public var payload: ByteBuffer
        public var qos: UInt8
        public var retain: Bool
        /// Set when a QoS 1 message is sent again.
        public var duplicate = false
        /// QoS 1 only.
        public var packetID: UInt16?

        public init(topic: String, payload: ByteBuffer, qos: UInt8, retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    public static func == (lhs: MQTTPacket, rhs: MQTTPacket) -> Bool {
        switch (lhs, rhs) {
        case (.connect(let a), .connect(let b)): a == b
        case (.connack(let a1, let a2), .connack(let b1, let b2)): a1 == b1 && a2 == b2
        case (.publish(let a), .publish(let b)): a == b
        case (.puback(let a), .puback(let b)): a == b
        case (.subscribe(let a1, let a2), .subscribe(let b1, let b2)):
            a1 == b1 && a2.map(\.filter) == b2.map(\.filter) && a2.map(\.qos) == b2.map(\.qos)
        case (.suback(let a1, let a2), .suback(let b1, let b2)): a1 == b1 && a2 == b2
        case (.pingreq, .pingreq), (.pingresp, .pingresp), (.disconnect, .disconnect): true
        default: false
        }
    }

    /// What CONNACK's return code means (3.2.2.3).
    public static func describeConnackCode(_ code: UInt8) -> String {
        switch code {
        case 0: "accepted"
        case 1: "unacceptable protocol version"
        case 2: "client identifier rejected"
        case 3: "server unavailable"
        case 4: "bad user name or password"
        case 5: "not authorized"
        default: "unknown return code \(code)"
        }
    }

    // MARK: - Encoding

    public func encode(into buffer: inout ByteBuffer) {
        var body = ByteBuffer()
        let header: UInt8
        switch self {
        case .connect(let connect):
            header = 0x10
            body.writeMQTTString("MQTT")
            body.writeInteger(UInt8(4))  // protocol level 3.1.1
            var flags: UInt8 = connect.cleanSession ? 0x02 : 0
            if let will = connect.will {
                flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0)
            }
            if connect.password != nil { flags |= 0x40 }
            if connect.username != nil { flags |= 0x80 }
            body.writeInteger(flags)
            body.writeInteger(connect.keepAliveSeconds)
            body.writeMQTTString(connect.clientID)
            if let will = connect.will {
                body.writeMQTTString(will.topic)
                body.writeInteger(UInt16(will.payload.readableBytes))
                body.writeImmutableBuffer(will.payload)
            }
            if let username = connect.username { body.writeMQTTString(username) }
            if let password = connect.password { body.writeMQTTString(password) }
        case .connack(let sessionPresent, let returnCode):
            header = 0x20
            body.writeInteger(UInt8(sessionPresent ? 1 : 0))
            body.writeInteger(returnCode)
        case .publish(let publish):
            header =
                0x30 | (publish.duplicate ? 0x08 : 0) | (publish.qos << 1) | (publish.retain ? 0x01 : 0)
            body.writeMQTTString(publish.topic)
            if publish.qos > 0 { body.writeInteger(publish.packetID ?? 0) }
            body.writeImmutableBuffer(publish.payload)
        case .puback(let packetID):
            header = 0x40
            body.writeInteger(packetID)
        case .subscribe(let packetID, let topics):
            header = 0x82
            body.writeInteger(packetID)
            for topic in topics {
                body.writeMQTTString(topic.filter)
                body.writeInteger(topic.qos)
            }
        case .suback(let packetID, let returnCodes):
            header = 0x90
            body.writeInteger(packetID)
            for code in returnCodes { body.writeInteger(code) }
        case .pingreq:
            header = 0xC0
        case .pingresp:
            header = 0xD0
        case .disconnect:
            header = 0xE0
        }
        buffer.writeInteger(header)
        var length = body.readableBytes
        repeat {
            var byte = UInt8(length % 128)
            length /= 128
            if length > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while length > 0
        buffer.writeBuffer(&body)
    }

    // MARK: - Decoding

    /// Reads one packet from the front of `buffer`; nil (and nothing
    /// consumed) when it is not all there yet. Throws on a malformed packet
    /// or one longer than `maxLength`.
    public static func read(from buffer: inout ByteBuffer, maxLength: Int) throws(MQTTProtocolError) -> MQTTPacket? {
        var view = buffer
        guard let header = view.readInteger(as: UInt8.self) else { return nil }
        var length = 0
        var multiplier = 1
        var lengthBytes = 0
        while true {
            guard let byte = view.readInteger(as: UInt8.self) else { return nil }
            lengthBytes += 1
            length += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 { break }
            guard lengthBytes < 4 else { throw MQTTProtocolError("a remaining length longer than 4 bytes") }
            multiplier *= 128
        }
        guard length <= maxLength else {
            throw MQTTProtocolError("a packet of \(length) bytes, over the limit of \(maxLength)")
        }
        guard var body = view.readSlice(length: length) else { return nil }
        let packet = try parse(header: header, body: &body)
        buffer = view
        return packet
    }

    private static func parse(header: UInt8, body: inout ByteBuffer) throws(MQTTProtocolError) -> MQTTPacket {
        let flags = header & 0x0F
        switch header >> 4 {
        case 2:
            guard body.readableBytes == 2, let ack = body.readInteger(as: UInt8.self),
                let code = body.readInteger(as: UInt8.self)
            else { throw MQTTProtocolError("a CONNACK of \(body.readableBytes) bytes") }
            return .connack(sessionPresent: ack & 1 == 1, returnCode: code)
        case 3:
            let qos = (flags >> 1) & 0x03
            guard qos < 3 else { throw MQTTProtocolError("a PUBLISH with QoS 3") }
            guard let topic = body.readMQTTString() else { throw MQTTProtocolError("a PUBLISH without a topic") }
            var publish = Publish(topic: topic, payload: ByteBuffer(), qos: qos, retain: flags & 1 == 1)
            publish.duplicate = flags & 0x08 != 0
            if qos > 0 {
                guard let id = body.readInteger(as: UInt16.self) else {
                    throw MQTTProtocolError("a PUBLISH without a packet id")
                }
                publish.packetID = id
            }
            publish.payload = body.slice()
            return .publish(publish)
        case 4:
            guard body.readableBytes == 2, let id = body.readInteger(as: UInt16.self) else {
                throw MQTTProtocolError("a PUBACK of \(body.readableBytes) bytes")
            }
            return .puback(packetID: id)
        case 9:
            guard let id = body.readInteger(as: UInt16.self), body.readableBytes > 0 else {
                throw MQTTProtocolError("a SUBACK without return codes")
            }
            return .suback(packetID: id, returnCodes: Array(body.readableBytesView))
        case 13:
            guard body.readableBytes == 0 else { throw MQTTProtocolError("a PINGRESP with a body") }
            return .pingresp
        case 1, 8, 12, 14:
            throw MQTTProtocolError("a client's packet (type \(header >> 4)) from the broker")
        default:
            throw MQTTProtocolError("packet type \(header >> 4), which this client does not use")
        }
    }
}

/// The broker sent something that is not MQTT 3.1.1 as this client speaks it.
public struct MQTTProtocolError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = "malformed MQTT from the broker: " + description }
}

extension ByteBuffer {
    mutating func writeMQTTString(_ string: String) {
        let bytes = Array(string.utf8.prefix(65535))
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    mutating func readMQTTString() -> String? {
        guard let length = readInteger(as: UInt16.self), let bytes = readBytes(length: Int(length)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
