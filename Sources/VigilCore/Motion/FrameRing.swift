import NIOCore

/// The last frames of a camera, kept for an event's `pre_capture`: bounded
/// by time and by bytes, the oldest dropped first. Frames share their
/// buffers with every viewer; nothing is copied. Bytes are counted as the
/// memory the frames hold (their buffers' storage), not only the JPEG bytes,
/// so the bound is the memory the ring can keep alive.
public struct FrameRing: Sendable {
    public let maxDuration: Duration
    public let maxBytes: Int
    /// A dropped frame leaves the buffer at once: no frame outlives its place.
    private var frames = CircularBuffer<Frame>()
    public private(set) var bytes = 0

    public init(maxDuration: Duration, maxBytes: Int) {
        self.maxDuration = maxDuration
        self.maxBytes = maxBytes
    }

    public var count: Int { frames.count }

    /// The memory a frame keeps alive.
    public static func cost(of frame: Frame) -> Int { frame.mjpegPart.storageCapacity }

    public mutating func append(_ frame: Frame) {
        guard maxDuration > .zero, maxBytes > 0 else { return }
        frames.append(frame)
        bytes += Self.cost(of: frame)
        while let oldest = frames.first, bytes > maxBytes || frame.capturedAt - oldest.capturedAt > maxDuration {
            bytes -= Self.cost(of: frames.removeFirst())
        }
    }

    /// The frames in order, emptying the ring.
    public mutating func drain() -> [Frame] {
        defer {
            frames.removeAll(keepingCapacity: true)
            bytes = 0
        }
        return Array(frames)
    }
}
