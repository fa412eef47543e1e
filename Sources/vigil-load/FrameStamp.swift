/// Reads when a frame was taken from its first bytes: the comment
/// `vigil-ts=SECONDS` that `vigil fake-camera --timestamp` writes right after
/// SOI. It travels inside the JPEG, so MJPEG and WebSocket viewers (and the
/// reference writer) are measured against the same clock and event.
struct FrameStampReader {
    private var head: [UInt8] = []
    private static let capacity = 64

    /// Starts a new frame.
    mutating func reset() {
        head.removeAll(keepingCapacity: true)
    }

    /// The next bytes of the frame (only its first few are kept).
    mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        guard head.count < Self.capacity else { return }
        head.append(contentsOf: bytes.prefix(Self.capacity - head.count))
    }

    /// The stamp, once its bytes are in; nil for a frame without one.
    var stamp: Double? {
        guard head.count >= 6, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF, head[3] == 0xFE else { return nil }
        let length = Int(head[4]) << 8 | Int(head[5])
        guard length >= 2, head.count >= 4 + length else { return nil }
        let text = String(decoding: head[6..<(4 + length)], as: UTF8.self)
        guard text.hasPrefix("vigil-ts=") else { return nil }
        return Double(text.dropFirst(9))
    }
}
