import NIOCore
import VigilCore

/// A frame on its way to the live viewers of one event loop.
///
/// The fan-out wraps each frame once per loop; every viewer there holds this
/// one object (one reference, not the frame's three) and writes the bytes
/// built here once for all of them: the frame's own MJPEG part, or a
/// WebSocket header built on first use. Touched only on that loop.
final class OutgoingFrame {
    let frame: Frame

    init(_ frame: Frame) {
        self.frame = frame
    }

    var camera: String { frame.camera }
    var isPlaceholder: Bool { frame.isPlaceholder }

    /// The header of an untagged binary WebSocket message carrying the JPEG.
    private(set) lazy var webSocketHeader = LiveSocketFraming.header(payload: frame.jpeg.readableBytes, tag: nil)

    /// The header of a binary WebSocket message carrying the camera's tag and
    /// the JPEG (`/api/v1/live`), followed by the tag.
    private(set) lazy var taggedWebSocketHeader = LiveSocketFraming.header(
        payload: frame.jpeg.readableBytes, tag: LiveSocketFraming.tag(for: frame.camera))
}
