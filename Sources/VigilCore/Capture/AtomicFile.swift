import SystemPackage

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Files that appear complete or not at all: written (or finished by another
/// program) under a temporary name, flushed to disk, then renamed, and the
/// directory flushed, so a crash at any point never leaves a half-written
/// file under the final name.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// The `errno` of the failed call (ENOSPC: the disk is full).
        public var code: Int32 = 0
    }

    /// The temporary name used for `path` while it is being written.
    public static func partialPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".partial-" + url.lastPathComponent).path
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let partial = partialPath(for: path)
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(partial): \(errnoText())", code: errno) }
        do {
            try FileDescriptor(rawValue: fd).writeAll(bytes)
        } catch {
            close(fd)
            unlink(partial)
            throw Failure(description: "cannot write \(partial): \(error)", code: (error as? Errno)?.rawValue ?? EIO)
        }
        close(fd)
        try commit(partial: partial, to: path)
    }

    /// Makes the finished file at `partial` durable and gives it its final name.
    public static func commit(partial: String, to path: String) throws {
        let fd = open(partial, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(partial): \(errnoText())", code: errno) }
        let synced = fsync(fd)
        let syncError = errno
        close(fd)
        guard synced == 0 else {
            unlink(partial)
            throw Failure(
                description: "cannot flush \(partial): \(String(cString: strerror(syncError)))", code: syncError)
        }
        guard rename(partial, path) == 0 else {
            let (message, code) = (errnoText(), errno)
            unlink(partial)
            throw Failure(description: "cannot rename \(partial): \(message)", code: code)
        }
        syncDirectory(of: path)
    }

    /// Removes temporary files left in `dir` by a crash.
    @discardableResult
    public static func removeLeftovers(in dir: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var removed = 0
        for name in names where name.hasPrefix(".partial-") {
            if unlink(Path.join(dir, name)) == 0 { removed += 1 }
        }
        return removed
    }

    static func syncDirectory(of path: String) {
        let dir = Path.dirname(path)
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
