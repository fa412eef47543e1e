import NIOCore
import VigilCore

/// A frame on a live WebSocket as bytes written below the WebSocket codec:
/// the header of one unmasked, unfragmented binary message, then the shared
/// JPEG buffer itself (the two go out in one `writev`; no copy per viewer).
///
/// On `/api/v1/live` the message starts with a tag naming the camera (one
/// byte N, then N bytes of camera id), written with the header. Valid only
/// while no WebSocket extension (compression) is negotiated, which Vigil's
/// server configuration never offers: an extension would have to transform
/// these bytes.
enum LiveSocketFraming {
    /// The framing of `/cameras/{id}/live`, untagged. The headers are built
    /// once per frame and event loop (`OutgoingFrame`).
    static let untagged: FrameDelivery.Framing = { outgoing in
        (outgoing.webSocketHeader, outgoing.frame.jpeg)
    }

    /// The framing of `/api/v1/live`, tagged.
    static let tagged: FrameDelivery.Framing = { outgoing in
        (outgoing.taggedWebSocketHeader, outgoing.frame.jpeg)
    }

    /// The tag naming `camera`: one byte N, then N bytes of camera id.
    static func tag(for camera: String) -> [UInt8] {
        let id = Array(camera.utf8.prefix(255))
        return [UInt8(id.count)] + id
    }

    /// The header of a final binary message of the tag and `payload` bytes,
    /// followed by the tag.
    static func header(payload: Int, tag: [UInt8]?) -> ByteBuffer {
        let length = payload + (tag?.count ?? 0)
        var buffer = ByteBufferAllocator().buffer(capacity: 10 + (tag?.count ?? 0))
        buffer.writeInteger(UInt8(0x82))  // FIN, opcode binary
        switch length {
        case 0...125:
            buffer.writeInteger(UInt8(length))
        case 126...0xFFFF:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
        if let tag { buffer.writeBytes(tag) }
        return buffer
    }
}
