import NIOCore
import SystemPackage

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Writes an event's frames as one MJPEG file: the `multipart/x-mixed-replace`
/// body Vigil streams live (boundary, headers with `Content-Length` and
/// `X-Timestamp`, JPEG), so ffplay and VLC play it, the server can replay it
/// at its recorded pace, and a file cut by a crash can be trimmed to its last
/// whole frame. Written under a temporary name and renamed when complete.
public final class ClipWriter {
    public let path: String
    public let partialPath: String
    private var fd: Int32
    public private(set) var bytes: Int64 = 0
    public private(set) var frames = 0

    public init(path: String) throws {
        self.path = path
        self.partialPath = AtomicFile.partialPath(for: path)
        fd = open(partialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw AtomicFile.Failure(description: "cannot create \(partialPath): \(String(cString: strerror(errno)))")
        }
        do {
            try MJPEGPart.preamble.withUnsafeBytes { try write($0) }
        } catch {
            abandon()
            throw error
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends one frame (its MJPEG part, the same bytes viewers get).
    public func append(_ frame: Frame) throws {
        try frame.mjpegPart.withUnsafeReadableBytes { try write($0) }
        frames += 1
    }

    /// Flushes the file to disk and gives it its final name.
    public func finish() throws {
        guard fd >= 0 else { throw AtomicFile.Failure(description: "\(path) is already closed") }
        close(fd)
        fd = -1
        try AtomicFile.commit(partial: partialPath, to: path)
    }

    /// Closes and deletes the unfinished file.
    public func abandon() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(partialPath)
    }

    private func write(_ buffer: UnsafeRawBufferPointer) throws {
        do {
            try FileDescriptor(rawValue: fd).writeAll(buffer)
        } catch {
            throw AtomicFile.Failure(
                description: "cannot write \(partialPath): \(error)", code: (error as? Errno)?.rawValue ?? EIO)
        }
        bytes += Int64(buffer.count)
    }
}

/// Reads an event clip part by part.
public final class ClipReader {
    /// One frame of a clip.
    public struct Part: Sendable {
        /// The whole part as stored: headers, JPEG, end of part and next boundary.
        public var bytes: ByteBuffer
        /// The JPEG alone.
        public var jpeg: ByteBuffer
        /// Wall time the frame was taken (X-Timestamp).
        public var timestamp: Double
        /// File offset just after this part.
        public var endOffset: Int64
    }

    /// Largest frame accepted; a larger Content-Length means a damaged file.
    public static let maxFrameBytes = 256 * 1024 * 1024
    private let fd: Int32
    private var buffer = ByteBuffer()
    private var offset: Int64 = 0
    private var eof = false
    private var started = false

    public init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw AtomicFile.Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// The next whole part, or nil at the end of the file or at the first
    /// damaged or incomplete part.
    public func next() throws -> Part? {
        if !started {
            guard try fill(MJPEGPart.preamble.count) else { return nil }
            guard buffer.readBytes(length: MJPEGPart.preamble.count) == MJPEGPart.preamble else { return nil }
            offset += Int64(MJPEGPart.preamble.count)
            started = true
        }
        // Headers end with an empty line; they are short.
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = buffer.readableBytesView.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]).map {
                $0.upperBound - buffer.readerIndex
            }
            if headerEnd == nil {
                if buffer.readableBytes > 4096 { return nil }
                guard try fill(buffer.readableBytes + 1) else { return nil }
            }
        }
        guard let headerEnd,
            let headerText = buffer.getString(at: buffer.readerIndex, length: headerEnd)
        else { return nil }
        var length: Int?
        var timestamp = 0.0
        for line in headerText.split(separator: "\r\n") {
            let pieces = line.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2 else { continue }
            let value = pieces[1].trimmingSpaces
            switch pieces[0].lowercased() {
            case "content-length": length = Int(value)
            case "x-timestamp": timestamp = Double(value) ?? 0
            default: break
            }
        }
        guard let length, length > 0, length <= Self.maxFrameBytes else { return nil }
        let total = headerEnd + length + MJPEGPart.trailer.count
        guard try fill(total) else { return nil }
        let part = buffer.getSlice(at: buffer.readerIndex, length: total)!
        let jpeg = buffer.getSlice(at: buffer.readerIndex + headerEnd, length: length)!
        guard
            part.getBytes(at: part.readerIndex + headerEnd + length, length: MJPEGPart.trailer.count)
                == MJPEGPart.trailer
        else { return nil }
        buffer.moveReaderIndex(forwardBy: total)
        offset += Int64(total)
        return Part(bytes: part, jpeg: jpeg, timestamp: timestamp, endOffset: offset)
    }

    /// Reads until `count` bytes are buffered; false at the end of the file.
    private func fill(_ count: Int) throws -> Bool {
        while buffer.readableBytes < count {
            if eof { return false }
            buffer.discardReadBytes()
            let want = max(65536, count - buffer.readableBytes)
            buffer.reserveCapacity(minimumWritableBytes: want)
            var failure: Int32 = 0
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                let r = Glibc.read(fd, raw.baseAddress, raw.count)
                if r < 0 { failure = errno }
                return max(r, 0)
            }
            if failure == EINTR { continue }
            if failure != 0 {
                throw AtomicFile.Failure(description: "cannot read clip: \(String(cString: strerror(failure)))")
            }
            if n == 0 { eof = true }
        }
        return true
    }
}

extension ClipReader {
    /// Scans the clip at `path`: its whole frames, bytes up to the last
    /// whole frame, and the first and last timestamps.
    public static func scan(path: String) throws -> (frames: Int, validBytes: Int64, first: Double?, last: Double?) {
        let reader = try ClipReader(path: path)
        var frames = 0
        var valid: Int64 = 0
        var first: Double?
        var last: Double?
        while let part = try reader.next() {
            frames += 1
            valid = part.endOffset
            if first == nil { first = part.timestamp }
            last = part.timestamp
        }
        return (frames, valid, first, last)
    }
}
