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

/// The frames of one upload session on disk: the JPEGs concatenated, as they
/// came, in `frames.mjpg` (playable with `ffplay -f mjpeg`). Frames are
/// written as they arrive, so memory per session does not grow with its
/// length; `sync()` makes everything written so far durable.
public final class SessionFile {
    public let path: String
    private var fd: Int32
    /// Bytes written so far.
    public private(set) var bytes: Int64

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// The `errno` of the failed call (ENOSPC: the disk is full).
        public var code: Int32 = 0
    }

    /// Opens (creating if needed) `path` and cuts it to `keep` bytes: what a
    /// resumed session had durably stored; anything after it is discarded.
    public init(path: String, keep: Int64) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))", code: errno)
        }
        guard ftruncate(fd, off_t(keep)) == 0, lseek(fd, off_t(keep), SEEK_SET) == off_t(keep) else {
            let (message, code) = (String(cString: strerror(errno)), errno)
            Glibc.close(fd)
            throw Failure(description: "cannot prepare \(path): \(message)", code: code)
        }
        bytes = keep
    }

    deinit { close() }

    public func append(_ buffer: ByteBuffer) throws {
        do {
            _ = try buffer.withUnsafeReadableBytes { try FileDescriptor(rawValue: fd).writeAll($0) }
        } catch {
            throw Failure(description: "cannot write \(path): \(error)", code: (error as? Errno)?.rawValue ?? EIO)
        }
        bytes += Int64(buffer.readableBytes)
    }

    public func sync() throws {
        guard fsync(fd) == 0 else {
            throw Failure(description: "cannot flush \(path): \(String(cString: strerror(errno)))", code: errno)
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
