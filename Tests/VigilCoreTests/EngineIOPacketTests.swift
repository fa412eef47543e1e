import Testing
import VigilAPI

@testable import VigilSources

/// The Engine.IO v4 / Socket.IO v5 packets the `socketio` source reads, as
/// the protocol specifications write them.
@Suite struct EngineIOPacketTests {
    @Test func engineIOPackets() {
        #expect(
            EngineIOPacket.parse(
                #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
            )
                == .open(pingInterval: .seconds(25), pingTimeout: .seconds(20)))
        #expect(EngineIOPacket.parse("1") == .close)
        #expect(EngineIOPacket.parse("2") == .ping)
        #expect(EngineIOPacket.parse("3") == .pong)
        #expect(EngineIOPacket.parse("6") == .other)
        #expect(EngineIOPacket.parse("") == nil)
        #expect(EngineIOPacket.parse("x") == nil)
        #expect(EngineIOPacket.parse(#"0{"sid":"a"}"#) == nil, "an open packet needs its heartbeat")
        #expect(EngineIOPacket.parse(#"0{"pingInterval":-5,"pingTimeout":1}"#) == nil)
    }

    @Test func socketIOPackets() throws {
        guard case .message(let connected)? = EngineIOPacket.parse(#"40/cam,{"sid":"wZX3oN0bSVIhsaknAAAI"}"#) else {
            Issue.record("a namespace connect")
            return
        }
        #expect(connected.kind == .connect && connected.namespace == "/cam")
        guard case .message(let refused)? = EngineIOPacket.parse(#"44{"message":"Not authorized"}"#) else {
            Issue.record("a refusal")
            return
        }
        #expect(refused.kind == .connectError && refused.namespace == "/")
        #expect(refused.data?["message"]?.stringValue == "Not authorized")
        guard case .message(let event)? = EngineIOPacket.parse(#"42/cam,12["frame",{"data":{"image":"AAA="}}]"#) else {
            Issue.record("an event")
            return
        }
        #expect(event.kind == .event && event.ackID == 12)
        #expect(event.data == ["frame", ["data": ["image": "AAA="]]])
        guard
            case .message(let binary)? = EngineIOPacket.parse(
                #"451-/cam,["frame",{"_placeholder":true,"num":0}]"#)
        else {
            Issue.record("a binary event")
            return
        }
        #expect(binary.kind == .binaryEvent && binary.attachments == 1 && binary.namespace == "/cam")
        #expect(SocketIOPacket.parse("9") == nil)
        #expect(SocketIOPacket.parse("5x-[]") == nil)
        #expect(SocketIOPacket.parse("599-[]") == nil, "attachments are bounded")
        #expect(SocketIOPacket.parse("2[not json") == nil)
    }

    @Test func theEngineURLFollowsTheServerURL() {
        #expect(
            SocketIOSource.engineURL("http://runner:5000") == "ws://runner:5000/socket.io/?EIO=4&transport=websocket")
        #expect(SocketIOSource.engineURL("https://runner/") == "wss://runner/socket.io/?EIO=4&transport=websocket")
    }
}
