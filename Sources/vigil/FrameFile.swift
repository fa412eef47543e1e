import NIOCore
import VigilClient
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The frames to send, read one at a time (memory stays bounded whatever
/// the file's size): an MJPEG file is re-parsed from the start when a
/// resumed session skips frames, which costs little next to the network.
struct FrameFile: UploadFrames {
    let path: String
    let files: [String]?
    let count: Int
    var name: String { Path.basename(path) }

    init(path: String) throws {
        self.path = path
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandFailure("no such file: \(path)")
        }
        if isDirectory {
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.lowercased().hasSuffix(".jpg") || $0.lowercased().hasSuffix(".jpeg") }.sorted()
            files = names.map { Path.join(path, $0) }
            count = names.count
        } else {
            files = nil
            var reader = try MJPEGFileReader(path: path)
            var n = 0
            while let batch = try reader.nextBatch() { n += batch.count }
            count = n
        }
        guard count > 0 else { throw CommandFailure("\(path) holds no JPEG frames") }
    }

    /// Calls `body` with each frame from index `skip` on, until it returns false.
    func frames(from skip: Int, _ body: (ByteBuffer) async throws -> Bool) async throws {
        if let files {
            for file in files.dropFirst(skip) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CommandFailure("cannot read \(file)")
                }
                if try await !body(ByteBuffer(bytes: data)) { return }
            }
            return
        }
        var reader = try MJPEGFileReader(path: path)
        var index = 0
        while let batch = try reader.nextBatch() {
            for frame in batch {
                defer { index += 1 }
                if index >= skip, try await !body(frame) { return }
            }
        }
    }
}

/// The frames of an MJPEG file (concatenated JPEGs), a 1 MiB read at a time:
/// memory stays bounded whatever the file's size.
struct MJPEGFileReader {
    private let fd: Int32
    private var parser = JPEGFrameParser(maxFrameBytes: 64 << 20)

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandFailure("cannot read \(path)") }
        self.fd = fd
    }

    /// The frames completed by the next read; nil at the end of the file.
    mutating func nextBatch() throws -> [ByteBuffer]? {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else {
            close(fd)
            if count < 0 { throw CommandFailure("read failed: \(String(cString: strerror(errno)))") }
            return nil
        }
        chunk.removeSubrange(count...)
        var frames: [ByteBuffer] = []
        chunk.withUnsafeBytes { bytes in parser.feed(bytes) { frames.append($0.buffer) } }
        return frames
    }
}
