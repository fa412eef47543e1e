import Foundation
import NIOCore

/// Reads one live WebSocket (`/cameras/{id}/live` or `/api/v1/live`) as it
/// arrives and counts frames without keeping any: it opens the socket,
/// walks the frame headers, skips payloads and notes, when a binary
/// message's last byte arrives, the time since the camera took it (the stamp
/// `vigil fake-camera --timestamp` puts in the JPEG: `FrameStampReader`).
final class WebSocketLoadHandler: ViewerLoadHandler, @unchecked Sendable {
    private enum State {
        case handshake
        case header
        case payload(remaining: Int, opcode: UInt8, fin: Bool)
        case closed
    }

    private let tagged: Bool
    private var state = State.handshake
    private var pendingBytes: [UInt8] = []
    /// The binary message being received: its length so far and the tag length.
    private var messageIsBinary = false
    private var messageBytes = 0
    private var tagLength: Int?
    private var stamp = FrameStampReader()
    /// Control frame payload being collected (a ping to answer).
    private var control: [UInt8] = []

    /// `tagged`: messages start with a camera tag (`/api/v1/live`).
    init(host: String, path: String, tagged: Bool, countFrom: Double) {
        self.tagged = tagged
        super.init(
            request: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dmlnaWwtbG9hZC1jbGllbnQ=\r\nSec-WebSocket-Version: 13\r\nUser-Agent: vigil-load\r\n\r\n",
            countFrom: countFrom)
    }

    override func consume(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        var index = 0
        while index < bytes.count {
            switch state {
            case .closed:
                return
            case .handshake:
                pendingBytes.append(bytes[index])
                index += 1
                if pendingBytes.count >= 4, pendingBytes.suffix(4) == [13, 10, 13, 10] {
                    let head = String(decoding: pendingBytes, as: UTF8.self)
                    pendingBytes = []
                    guard head.hasPrefix("HTTP/1.1 101") else {
                        fail(String(head.prefix(while: { $0 != "\r" })))
                        state = .closed
                        return
                    }
                    state = .header
                }
            case .header:
                pendingBytes.append(bytes[index])
                index += 1
                guard let (length, opcode, fin) = parsedHeader() else { continue }
                pendingBytes = []
                if opcode == 1 || opcode == 2 { messageIsBinary = opcode == 2 }
                state = .payload(remaining: length, opcode: opcode, fin: fin)
                if length == 0 { payloadEnded(opcode: opcode, fin: fin, context: context) }
            case .payload(let remaining, let opcode, let fin):
                let take = min(remaining, bytes.count - index)
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)])
                index += take
                if opcode >= 8 {
                    control.append(contentsOf: chunk)
                } else if messageIsBinary {
                    if messageBytes == 0 {
                        stamp.reset()
                        tagLength = tagged ? chunk.first.map { 1 + Int($0) } : 0
                    }
                    let jpegStart = max(0, (tagLength ?? 0) - messageBytes)
                    if jpegStart < chunk.count { stamp.consume(UnsafeRawBufferPointer(rebasing: chunk[jpegStart...])) }
                    messageBytes += take
                }
                if take == remaining {
                    payloadEnded(opcode: opcode, fin: fin, context: context)
                } else {
                    state = .payload(remaining: remaining - take, opcode: opcode, fin: fin)
                }
            }
        }
    }

    /// The frame header in `pendingBytes` once it is complete: payload
    /// length, opcode and FIN. Frames from a server are not masked.
    private func parsedHeader() -> (Int, UInt8, Bool)? {
        guard pendingBytes.count >= 2 else { return nil }
        let fin = pendingBytes[0] & 0x80 != 0
        let opcode = pendingBytes[0] & 0x0F
        let short = Int(pendingBytes[1] & 0x7F)
        switch short {
        case 126:
            guard pendingBytes.count >= 4 else { return nil }
            return (Int(pendingBytes[2]) << 8 | Int(pendingBytes[3]), opcode, fin)
        case 127:
            guard pendingBytes.count >= 10 else { return nil }
            let length = pendingBytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            return (length, opcode, fin)
        default:
            return (short, opcode, fin)
        }
    }

    private func payloadEnded(opcode: UInt8, fin: Bool, context: ChannelHandlerContext) {
        state = .header
        switch opcode {
        case 0x9:  // ping: answer with a masked pong carrying the same payload
            var pong = ByteBuffer()
            pong.writeInteger(UInt8(0x8A))
            pong.writeInteger(UInt8(0x80 | control.count))
            pong.writeBytes([0, 0, 0, 0])  // a zero mask leaves the payload as is
            pong.writeBytes(control)
            context.writeAndFlush(NIOAny(pong), promise: nil)
            control = []
        case 0x8:
            fail("closed by the server")
            state = .closed
            context.close(promise: nil)
        case 0xA:
            control = []
        default:
            guard fin, messageIsBinary else { return }
            if messageBytes > 0 { frameReceived(taken: stamp.stamp) }
            messageBytes = 0
            tagLength = nil
        }
    }
}
