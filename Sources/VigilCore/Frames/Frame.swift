import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One complete JPEG frame of a camera, as every consumer sees it.
///
/// The frame's bytes live in one `ByteBuffer` storage. `jpeg` and `mjpegPart`
/// are two views of that same storage: `mjpegPart` is the JPEG wrapped in the
/// part headers and followed by the next boundary, built once when the frame is
/// published so that every MJPEG viewer writes the very same bytes. Nothing on
/// the viewers' path copies or re-formats a frame.
public struct Frame: Sendable {
    /// The camera this frame belongs to.
    public let camera: String
    /// Increases by one for every frame a camera publishes, across restarts.
    public let seq: UInt64
    /// When the frame was received (monotonic clock, used for ages).
    public let capturedAt: ContinuousClock.Instant
    /// When the frame was received (wall clock, seconds since 1970).
    public let wallTime: Double
    public let width: Int
    public let height: Int
    /// The complete JPEG, SOI to EOI.
    public let jpeg: ByteBuffer
    /// The multipart body part for MJPEG viewers (headers, JPEG, next boundary).
    public let mjpegPart: ByteBuffer
    /// A generated "no signal" / "stopped" card, never a camera image.
    public let isPlaceholder: Bool

    /// Age of the frame now.
    public var age: Duration { ContinuousClock.now - capturedAt }

    /// Builds a frame from a JPEG in `buffer` (its readable bytes).
    ///
    /// When the buffer has `MJPEGPart.headroom` bytes free before its reader
    /// index and room for the trailer (as the framing parser leaves it), the
    /// part headers are written into that space and no byte is copied.
    /// Otherwise the JPEG is copied once into a new buffer laid out that way.
    public init(
        camera: String,
        seq: UInt64,
        jpeg buffer: ByteBuffer,
        width: Int,
        height: Int,
        capturedAt: ContinuousClock.Instant = .now,
        wallTime: Double = Date().timeIntervalSince1970,
        isPlaceholder: Bool = false
    ) {
        var storage = buffer
        if storage.readerIndex < MJPEGPart.headroom {
            storage = MJPEGPart.allocateFrameBuffer(capacity: buffer.readableBytes)
            var source = buffer
            storage.writeBuffer(&source)
        }
        let jpegStart = storage.readerIndex
        let jpegLength = storage.readableBytes
        let header = MJPEGPart.header(length: jpegLength, timestamp: wallTime, placeholder: isPlaceholder)
        let headerStart = jpegStart - header.count
        storage.setBytes(header, at: headerStart)
        storage.writeBytes(MJPEGPart.trailer)
        storage.moveReaderIndex(to: headerStart)
        self.mjpegPart = storage.getSlice(at: headerStart, length: storage.readableBytes)!
        self.jpeg = storage.getSlice(at: jpegStart, length: jpegLength)!
        self.camera = camera
        self.seq = seq
        self.capturedAt = capturedAt
        self.wallTime = wallTime
        self.width = width
        self.height = height
        self.isPlaceholder = isPlaceholder
    }
}

/// The wire form of MJPEG (`multipart/x-mixed-replace`) parts.
///
/// The one wire format the core knows, on purpose: a frame's part headers
/// are written once, into the headroom the framing parser leaves before the
/// JPEG, so the MJPEG part every viewer receives and the JPEG every other
/// consumer reads are two slices of one buffer (one copy per frame, not per
/// viewer). Clips on disk use the same parts.
public enum MJPEGPart {
    /// The boundary Vigil uses in every MJPEG response.
    public static let boundary = "vigilframe"
    /// Content type of an MJPEG response.
    public static let contentType = "multipart/x-mixed-replace; boundary=\(boundary)"
    /// Bytes reserved in front of a frame's JPEG for the part headers.
    public static let headroom = 128
    /// Bytes written after the JPEG: end of part and the next boundary, so a
    /// browser shows the frame at once instead of when the next one starts.
    public static let trailer: [UInt8] = Array("\r\n--\(boundary)\r\n".utf8)
    /// Written once at the start of a response body.
    public static let preamble: [UInt8] = Array("--\(boundary)\r\n".utf8)

    static func header(length: Int, timestamp: Double, placeholder: Bool = false) -> [UInt8] {
        let micros = Int64((timestamp * 1_000_000).rounded())
        let seconds = micros / 1_000_000
        let fraction = String(micros % 1_000_000)
        let padded = String(repeating: "0", count: 6 - fraction.count) + fraction
        let marker = placeholder ? "X-Placeholder: 1\r\n" : ""
        let text =
            "Content-Type: image/jpeg\r\nContent-Length: \(length)\r\nX-Timestamp: \(seconds).\(padded)\r\n\(marker)\r\n"
        return Array(text.utf8)
    }

    /// A buffer laid out for a frame of about `capacity` JPEG bytes: reader and
    /// writer index at `headroom`, room for the trailer at the end.
    public static func allocateFrameBuffer(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: headroom + capacity + trailer.count)
        buffer.moveWriterIndex(to: headroom)
        buffer.moveReaderIndex(to: headroom)
        return buffer
    }
}
