import Foundation

/// A WebSocket spoken by hand over a blocking socket: for clients that
/// misbehave (never read, read slowly).
final class RawWebSocket {
    let connection: HTTPConnection

    struct Frame {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]

        var text: String { String(decoding: payload, as: UTF8.self) }
        /// Close code and reason of a close frame.
        var close: (code: Int, reason: String)? {
            guard opcode == 0x8, payload.count >= 2 else { return nil }
            return (Int(payload[0]) << 8 | Int(payload[1]), String(decoding: payload[2...], as: UTF8.self))
        }
    }

    /// Connects and upgrades; `receiveBuffer` shrinks SO_RCVBUF.
    init(port: Int, path: String, receiveBuffer: Int? = nil, timeout: Int = 10) throws {
        connection = try HTTPConnection(port: port, timeout: timeout, receiveBuffer: receiveBuffer)
        try connection.send(
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let (status, _) = try connection.readHead()
        guard status == 101 else { throw HTTPTestError(description: "upgrade of \(path) answered \(status)") }
    }

    /// Reads one frame (server frames are not masked).
    func readFrame() throws -> Frame {
        let head = try connection.readExactly(2)
        var length = Int(head[1] & 0x7F)
        if length == 126 {
            let bytes = try connection.readExactly(2)
            length = Int(bytes[0]) << 8 | Int(bytes[1])
        } else if length == 127 {
            length = try connection.readExactly(8).reduce(0) { $0 << 8 | Int($1) }
        }
        return Frame(fin: head[0] & 0x80 != 0, opcode: head[0] & 0x0F, payload: try connection.readExactly(length))
    }

    /// Reads one whole message (joining fragments); control frames other
    /// than close are skipped.
    func readMessage() throws -> Frame {
        var message: Frame?
        while true {
            let frame = try readFrame()
            if frame.opcode == 0x8 { return frame }
            if frame.opcode >= 0x8 { continue }
            if frame.opcode == 0 {
                message?.payload += frame.payload
            } else {
                message = frame
            }
            if frame.fin, let message { return message }
        }
    }

    /// Sends one masked frame.
    func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true) throws {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(0x80 | 127)
            bytes += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try connection.send(bytes: bytes)
    }
}
