import ArgumentParser
import NIOCore
import SystemPackage
import VigilCore
import VigilSources

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Writes MJPEG to stdout like a camera program, with switches to misbehave.
struct FakeCamera: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-camera",
        abstract: "Write MJPEG to stdout, with fault switches (for tests and demos).")

    @Option(help: "Frames per second.")
    var fps: Double = 10

    @Option(help: "Frame size, WIDTHxHEIGHT.")
    var size: String = "640x360"

    @Option(help: "JPEG quality 1-100.")
    var quality: Int = 80

    @Option(help: "Grain amplitude 0-127 (noisy frames are as large as real camera frames).")
    var noise: Int = 0

    @Option(help: "Distinct frames rendered up front and then repeated.")
    var distinct: Int = 30

    @Option(help: "After N frames, stop writing but stay alive.")
    var stallAfter: Int?

    @Option(help: "After N frames, exit with status 3.")
    var exitAfter: Int?

    @Option(help: "After N frames, write 4 KiB of random garbage once, then go on.")
    var garbageAfter: Int?

    @Option(help: "Write every Nth frame cut in half.")
    var truncateEvery: Int?

    @Option(help: "After N frames, write one frame four times as large (for size-limit tests).")
    var oversizeAfter: Int?

    @Flag(help: "Write one byte every 10 ms (alive, but never a whole frame in time).")
    var trickle = false

    @Flag(
        help:
            "Stamp each frame with the time it is written, in a JPEG comment (vigil-ts=SECONDS), so a load client can measure latency from the camera."
    )
    var timestamp = false

    @Flag(help: "Ignore SIGTERM (only SIGKILL stops it).")
    var ignoreSigterm = false

    @Option(help: "Write N numbered lines to stderr at start.")
    var stderrLines = 0

    @Option(help: "Append this process's PID to a file at start.")
    var pidFile: String?

    @Option(
        help:
            "Still scene (the first frame repeated) with one second of the moving frames every N seconds (motion bursts)."
    )
    var motionEvery: Double?

    func validate() throws {
        guard fps > 0, fps <= 1000 else { throw ValidationError("--fps must be in (0, 1000]") }
        guard parsedSize != nil else { throw ValidationError("--size must look like 640x360") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard distinct >= 1, distinct <= 1000 else { throw ValidationError("--distinct must be 1...1000") }
        guard (0...127).contains(noise) else { throw ValidationError("--noise must be 0...127") }
        if let n = truncateEvery, n < 1 { throw ValidationError("--truncate-every must be >= 1") }
        if let n = motionEvery, !(n >= 1) { throw ValidationError("--motion-every must be >= 1 second") }
    }

    var parsedSize: (Int, Int)? {
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (16...7680).contains(w),
            (16...4320).contains(h)
        else { return nil }
        return (w, h)
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        if ignoreSigterm { signal(SIGTERM, SIG_IGN) }
        for line in 0..<stderrLines {
            StandardError.send("fake-camera stderr line \(line)\n")
        }
        if let pidFile {
            let fd = open(pidFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd >= 0 {
                let line = Array("\(getpid())\n".utf8)
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                _ = fsync(fd)
                close(fd)
            }
        }
        let (width, height) = parsedSize!
        let renderer = try TestPatternRenderer(label: "fake", width: width, height: height, quality: quality)
        let frames: [[UInt8]] = try (0..<distinct).map { index in
            let jpeg = try renderer.render(index: index, noise: noise)
            return jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
        }
        let oversize: [UInt8]? = try oversizeAfter.map { _ in
            let big = try TestPatternRenderer(label: "big", width: width * 2, height: height * 2, quality: 95)
            let jpeg = try big.render(index: 0, noise: 40)
            return jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
        }
        if trickle {
            for byte in frames.joined() {
                guard writeAll([byte][...]) else { return }
                usleep(10_000)
            }
            while true { sleep(3600) }
        }
        let interval = 1 / fps
        var next = Date().timeIntervalSince1970
        var written = 0
        while true {
            if let n = exitAfter, written >= n { Glibc.exit(3) }
            if let n = stallAfter, written >= n {
                while true { sleep(3600) }
            }
            if let n = garbageAfter, written == n {
                var garbage = [UInt8](repeating: 0, count: 4096)
                for i in garbage.indices { garbage[i] = UInt8.random(in: 0...255) }
                guard writeAll(garbage[...]) else { return }
            }
            if let n = oversizeAfter, written == n, let oversize {
                guard writeAll(oversize[...]) else { return }
            }
            var frame = frames[written % frames.count]
            if let period = motionEvery {
                let perPeriod = max(1, Int(period * fps))
                frame = written % perPeriod < Int(fps) ? frames[written % frames.count] : frames[0]
            }
            if timestamp { frame = Self.stamped(frame, at: Date().timeIntervalSince1970) }
            let truncated = truncateEvery.map { (written + 1) % $0 == 0 } ?? false
            guard writeAll(truncated ? frame[..<(frame.count / 2)] : frame[...]) else { return }
            written += 1
            next += interval
            let wait = next - Date().timeIntervalSince1970
            if wait > 0 {
                usleep(useconds_t(wait * 1_000_000))
            } else {
                next = Date().timeIntervalSince1970
            }
        }
    }

    /// `jpeg` with a comment segment `vigil-ts=SECONDS.MICROS` right after SOI.
    static func stamped(_ jpeg: [UInt8], at time: Double) -> [UInt8] {
        let micros = Int64((time * 1_000_000).rounded())
        let fraction = String(micros % 1_000_000)
        let text = Array(
            "vigil-ts=\(micros / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)".utf8)
        let length = text.count + 2
        return [0xFF, 0xD8, 0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)] + text + jpeg[2...]
    }

    /// Writes everything; false when the reader went away.
    private func writeAll(_ bytes: ArraySlice<UInt8>) -> Bool {
        (try? FileDescriptor.standardOutput.writeAll(bytes)) != nil
    }
}
