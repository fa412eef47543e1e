import NIOCore
import Testing
import VigilMQTT

/// The MQTT 3.1.1 codec: the bytes the standard gives, round trips, and
/// what a broker must not be able to do with bad bytes.
@Suite struct MQTTPacketTests {
    func bytes(_ packet: MQTTPacket) -> [UInt8] {
        var buffer = ByteBuffer()
        packet.encode(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func connectCarriesTheWillAndTheCredentials() {
        var connect = MQTTPacket.Connect(clientID: "v", keepAliveSeconds: 30)
        connect.will = .init(topic: "t", payload: ByteBuffer(string: "off"), qos: 1, retain: true)
        connect.username = "u"
        connect.password = "p"
        #expect(
            bytes(.connect(connect)) == [
                0x10, 27,  // CONNECT, remaining length
                0, 4, 77, 81, 84, 84, 4,  // "MQTT", level 4
                0b1110_1110,  // user, password, will retain, will QoS 1, will, clean session
                0, 30,  // keepalive
                0, 1, 118,  // client id "v"
                0, 1, 116, 0, 3, 111, 102, 102,  // will topic "t", payload "off"
                0, 1, 117, 0, 1, 112,  // "u", "p"
            ])
    }

    @Test func aPublishReadsBackWithItsFlags() throws {
        var publish = MQTTPacket.Publish(
            topic: "vigil/a/set", payload: ByteBuffer(string: "stop"), qos: 1, retain: true)
        publish.packetID = 7
        publish.duplicate = true
        var buffer = ByteBuffer(bytes: bytes(.publish(publish)))
        #expect(buffer.getInteger(at: 0, as: UInt8.self) == 0x3B)
        #expect(try MQTTPacket.read(from: &buffer, maxLength: 1024) == .publish(publish))
        #expect(buffer.readableBytes == 0)
    }

    @Test func aLongRemainingLengthTakesSeveralBytes() throws {
        let payload = ByteBuffer(repeating: 0x41, count: 20_000)
        let publish = MQTTPacket.Publish(topic: "t", payload: payload, qos: 0, retain: false)
        let encoded = bytes(.publish(publish))
        #expect(Array(encoded[1...3]) == [0xA3, 0x9C, 0x01])  // 20,003 = 35 + 28·128 + 1·16384
        var partial = ByteBuffer(bytes: encoded.prefix(1000))
        #expect(try MQTTPacket.read(from: &partial, maxLength: 1 << 20) == nil, "not all there yet")
        #expect(partial.readableBytes == 1000, "nothing consumed")
        var whole = ByteBuffer(bytes: encoded)
        #expect(try MQTTPacket.read(from: &whole, maxLength: 1 << 20) == .publish(publish))
    }

    @Test func badBytesAreErrorsNotCrashes() {
        let cases: [[UInt8]] = [
            [0x20, 3, 0, 0, 0],  // CONNACK of 3 bytes
            [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // a remaining length of 5 bytes
            [0x36, 2, 0, 0],  // PUBLISH with QoS 3
            [0x10, 0],  // CONNECT from the broker
            [0xF0, 0],  // type 15
            [0x90, 2, 0, 1],  // SUBACK without codes
        ]
        for bad in cases {
            var buffer = ByteBuffer(bytes: bad)
            #expect(throws: MQTTProtocolError.self, "\(bad)") { try MQTTPacket.read(from: &buffer, maxLength: 1024) }
        }
        var huge = ByteBuffer(bytes: [0x30, 0x80, 0x80, 0x80, 0x01])
        #expect(throws: MQTTProtocolError.self) { try MQTTPacket.read(from: &huge, maxLength: 1024) }
    }

    @Test func connackCodesAreSaidInWords() {
        #expect(MQTTPacket.describeConnackCode(4) == "bad user name or password")
        #expect(MQTTPacket.describeConnackCode(5) == "not authorized")
    }
}
