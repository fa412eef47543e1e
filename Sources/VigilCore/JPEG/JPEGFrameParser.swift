import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A JPEG cut out of a byte stream by `JPEGFrameParser`.
public struct ParsedJPEG: Sendable {
    /// The JPEG (SOI..EOI) as readable bytes, with `MJPEGPart.headroom` free
    /// bytes before it so `Frame` can add part headers without a copy.
    public var buffer: ByteBuffer
    public var width: Int
    public var height: Int
}

/// Splits a stream of concatenated JPEGs (an MJPEG pipe, a multipart body)
/// into frames.
///
/// It walks the marker segments of each frame, skipping APPn/COM and every
/// other length-coded segment by its length (so an EXIF thumbnail's own
/// SOI/EOI inside APP1 does not cut the frame), then scans the entropy-coded
/// data for EOI, where `FF 00` is a stuffed byte and `FF D0`..`FF D7` are
/// restart markers. Bytes outside a frame are skipped and counted; a frame
/// cut short by a new SOI is dropped and counted; a frame over
/// `maxFrameBytes` is dropped and the parser resynchronises on the next SOI.
///
/// Invariant: memory held is at most one frame of `maxFrameBytes` plus the
/// chunk being fed. The entropy-coded data, almost all of a frame's bytes, is
/// scanned with `memchr` and copied in bulk, once, into the frame's buffer.
public struct JPEGFrameParser: Sendable {
    /// Counters since the parser was created.
    public struct Statistics: Sendable, Equatable {
        public var frames = 0
        /// Frames cut short (a new SOI before EOI).
        public var truncated = 0
        /// Frames over the size limit.
        public var oversize = 0
        /// Frames with broken marker structure.
        public var invalid = 0
        /// Bytes outside any frame.
        public var skippedBytes = 0
    }

    private enum State: Sendable {
        /// Looking for SOI; `sawFF` when the previous byte was 0xFF.
        case seekSOI(sawFF: Bool)
        /// Between segments: expecting 0xFF.
        case markerStart
        /// After 0xFF: expecting a marker code.
        case markerCode
        /// Reading the two length bytes of a segment.
        case length(marker: UInt8, high: Int?)
        /// Inside a segment body.
        case segment(marker: UInt8, remaining: Int, offset: Int)
        /// Inside entropy-coded data; `sawFF` when the previous byte was 0xFF.
        case entropy(sawFF: Bool)
    }

    public let maxFrameBytes: Int
    public private(set) var statistics = Statistics()
    private var state: State = .seekSOI(sawFF: false)
    private var frame: ByteBuffer?
    private var width = 0
    private var height = 0
    private var sofBytes: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    private var lastFrameSize = 64 * 1024

    public init(maxFrameBytes: Int = 8 * 1024 * 1024) {
        precondition(maxFrameBytes >= 4)
        self.maxFrameBytes = maxFrameBytes
    }

    /// Feeds the readable bytes of `buffer`; calls `emit` for each complete frame.
    public mutating func feed(_ buffer: ByteBuffer, emit: (ParsedJPEG) -> Void) {
        buffer.withUnsafeReadableBytes { self.feed($0, emit: emit) }
    }

    /// Feeds `bytes`; calls `emit` for each complete frame.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, emit: (ParsedJPEG) -> Void) {
        feed(bytes, depth: 0, emit: emit)
    }

    /// How many times the bytes of a broken frame are re-scanned within each other.
    private static let maxRescanDepth = 4

    private mutating func feed(_ bytes: UnsafeRawBufferPointer, depth: Int, emit: (ParsedJPEG) -> Void) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let count = bytes.count
        var index = 0
        // Index in `bytes` from which the current frame's bytes are not yet copied.
        var copyFrom = 0

        @inline(__always) func byte(_ i: Int) -> UInt8 {
            base.load(fromByteOffset: i, as: UInt8.self)
        }

        while index < count {
            switch state {
            case .seekSOI(let sawFF):
                if sawFF {
                    let b = byte(index)
                    index += 1
                    if b == 0xD8 {
                        statistics.skippedBytes -= 1
                        beginFrame()
                        copyFrom = index
                        state = .markerStart
                    } else {
                        statistics.skippedBytes += 1
                        state = .seekSOI(sawFF: b == 0xFF)
                    }
                    continue
                }
                guard let hit = memchr(base + index, 0xFF, count - index) else {
                    statistics.skippedBytes += count - index
                    index = count
                    continue
                }
                let position = base.distance(to: UnsafeRawPointer(hit))
                statistics.skippedBytes += position - index + 1
                index = position + 1
                state = .seekSOI(sawFF: true)
                // The 0xFF is counted as skipped until SOI is confirmed.
                if index < count, byte(index) == 0xD8 {
                    statistics.skippedBytes -= 1
                    index += 1
                    beginFrame()
                    copyFrom = index
                    state = .markerStart
                }

            case .markerStart:
                if byte(index) == 0xFF {
                    index += 1
                    state = .markerCode
                } else {
                    // Not a marker where one must be: the frame is broken.
                    abandonBrokenFrame(base, copyFrom: &copyFrom, index: index, depth: depth, emit: emit)
                }

            case .markerCode:
                let code = byte(index)
                index += 1
                switch code {
                case 0xFF:
                    break  // fill byte
                case 0xD8:
                    restartFrameAtSOI()
                    copyFrom = index
                    state = .markerStart
                case 0xD9, 0x00:
                    // EOI before any scan, or a stuffed byte outside entropy data.
                    abandonBrokenFrame(base, copyFrom: &copyFrom, index: index, depth: depth, emit: emit)
                case 0x01, 0xD0...0xD7:
                    state = .markerStart
                default:
                    state = .length(marker: code, high: nil)
                }

            case .length(let marker, let high):
                let b = Int(byte(index))
                index += 1
                guard let high else {
                    state = .length(marker: marker, high: b)
                    continue
                }
                let length = high << 8 | b
                if length < 2 {
                    abandonBrokenFrame(base, copyFrom: &copyFrom, index: index, depth: depth, emit: emit)
                } else if length == 2 {
                    state = marker == 0xDA ? .entropy(sawFF: false) : .markerStart
                } else {
                    state = .segment(marker: marker, remaining: length - 2, offset: 0)
                }

            case .segment(let marker, let remaining, let offset):
                if Self.isStartOfFrame(marker), offset < 5 {
                    let b = byte(index)
                    index += 1
                    switch offset {
                    case 1: sofBytes.0 = b
                    case 2: sofBytes.1 = b
                    case 3: sofBytes.2 = b
                    case 4:
                        sofBytes.3 = b
                        height = Int(sofBytes.0) << 8 | Int(sofBytes.1)
                        width = Int(sofBytes.2) << 8 | Int(b)
                    default: break
                    }
                    let left = remaining - 1
                    state =
                        left == 0
                        ? (marker == 0xDA ? .entropy(sawFF: false) : .markerStart)
                        : .segment(marker: marker, remaining: left, offset: offset + 1)
                    continue
                }
                let take = min(remaining, count - index)
                index += take
                let left = remaining - take
                if left == 0 {
                    state = marker == 0xDA ? .entropy(sawFF: false) : .markerStart
                } else {
                    state = .segment(marker: marker, remaining: left, offset: offset + take)
                }

            case .entropy(let sawFF):
                if !sawFF {
                    guard let hit = memchr(base + index, 0xFF, count - index) else {
                        index = count
                        continue
                    }
                    index = base.distance(to: UnsafeRawPointer(hit)) + 1
                    state = .entropy(sawFF: true)
                    continue
                }
                let code = byte(index)
                index += 1
                switch code {
                case 0x00, 0xD0...0xD7:
                    state = .entropy(sawFF: false)
                case 0xFF:
                    break
                case 0xD9:
                    flush(base, from: &copyFrom, to: index)
                    finishFrame(emit: emit)
                    state = .seekSOI(sawFF: false)
                case 0xD8:
                    // A new frame begins before this one ended.
                    restartFrameAtSOI()
                    copyFrom = index
                    state = .markerStart
                case 0x01:
                    state = .markerStart
                default:
                    // A marker between scans (DHT, SOS of a progressive JPEG, DNL).
                    state = .length(marker: code, high: nil)
                }
            }
            if frame != nil, (frame!.readableBytes + index - copyFrom) > maxFrameBytes {
                statistics.oversize += 1
                dropFrame()
                state = .seekSOI(sawFF: false)
            }
        }
        if frame != nil {
            flush(base, from: &copyFrom, to: count)
        }
    }

    /// Drops a frame in progress (for example when its source is replaced).
    public mutating func reset() {
        if frame != nil {
            statistics.truncated += 1
        }
        dropFrame()
        state = .seekSOI(sawFF: false)
    }

    /// Whether a frame has started and not ended.
    public var isInsideFrame: Bool { frame != nil }

    /// Drops a frame whose marker structure is broken and re-scans its bytes
    /// after its SOI: a frame cut inside a header segment has the next
    /// frame's SOI hidden in what was taken for that segment's body.
    private mutating func abandonBrokenFrame(
        _ base: UnsafeRawPointer, copyFrom: inout Int, index: Int, depth: Int, emit: (ParsedJPEG) -> Void
    ) {
        statistics.invalid += 1
        flush(base, from: &copyFrom, to: index)
        let consumed = frame
        dropFrame()
        state = .seekSOI(sawFF: false)
        if depth < Self.maxRescanDepth, var consumed, consumed.readableBytes > 2 {
            consumed.moveReaderIndex(forwardBy: 2)
            consumed.withUnsafeReadableBytes { feed($0, depth: depth + 1, emit: emit) }
        }
        copyFrom = index
    }

    private static func isStartOfFrame(_ marker: UInt8) -> Bool {
        switch marker {
        case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF: return true
        default: return false
        }
    }

    private mutating func beginFrame() {
        // ByteBuffer rounds storage up to a power of two, so a generous
        // margin can double every frame's memory (110 KB + 25% -> 256 KB);
        // 1/16 more than the last frame keeps most frames in the smaller
        // size, and a larger one just grows its buffer.
        let capacity = min(maxFrameBytes, lastFrameSize + lastFrameSize / 16 + 2048)
        var buffer = MJPEGPart.allocateFrameBuffer(capacity: capacity)
        buffer.writeInteger(UInt16(0xFFD8))
        frame = buffer
        width = 0
        height = 0
    }

    private mutating func restartFrameAtSOI() {
        statistics.truncated += 1
        dropFrame()
        beginFrame()
    }

    private mutating func dropFrame() {
        frame = nil
    }

    private mutating func flush(_ base: UnsafeRawPointer, from copyFrom: inout Int, to end: Int) {
        guard end > copyFrom, frame != nil else {
            copyFrom = max(copyFrom, end)
            return
        }
        frame!.writeBytes(UnsafeRawBufferPointer(start: base + copyFrom, count: end - copyFrom))
        copyFrom = end
    }

    private mutating func finishFrame(emit: (ParsedJPEG) -> Void) {
        guard let buffer = frame else { return }
        frame = nil
        if buffer.readableBytes > maxFrameBytes {
            statistics.oversize += 1
            return
        }
        statistics.frames += 1
        lastFrameSize = buffer.readableBytes
        emit(ParsedJPEG(buffer: buffer, width: width, height: height))
    }
}

extension JPEGFrameParser {
    /// `buffer` as a frame if it holds exactly one complete JPEG of at most
    /// `maxFrameBytes` (a pushed frame, a WebSocket message), else nil.
    public static func single(_ buffer: ByteBuffer, maxFrameBytes: Int) -> ParsedJPEG? {
        guard buffer.readableBytes <= maxFrameBytes else { return nil }
        var parser = JPEGFrameParser(maxFrameBytes: maxFrameBytes)
        var frames: [ParsedJPEG] = []
        parser.feed(buffer) { frames.append($0) }
        guard frames.count == 1, frames[0].buffer.readableBytes == buffer.readableBytes,
            frames[0].width > 0, frames[0].height > 0
        else { return nil }
        return frames[0]
    }
}
