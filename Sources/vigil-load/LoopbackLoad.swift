import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The reference for ingest: the same bytes through a bare loopback TCP
/// connection, written by one thread in frame-sized writes and read and
/// discarded by another. What no server can beat on this machine.
struct LoopbackLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopback", abstract: "Raw loopback TCP throughput in frames of a given size (ingest's reference)."
    )

    @Option(help: "Frames to send.")
    var frames = 5000

    @Option(help: "Bytes per frame (a 720p ingest frame is about 90 KB).")
    var frameBytes = 90_000

    func run() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(listener, raw, length) == 0, listen(listener, 1) == 0,
                    getsockname(listener, raw, &length) == 0
                else { throw ValidationError("cannot listen on 127.0.0.1") }
            }
        }
        let total = frames * frameBytes
        let reader = Thread {
            let connection = accept(listener, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var received = 0
            while received < total {
                let n = buffer.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                received += n
            }
            close(connection)
        }
        reader.start()
        let sender = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sender, $0, length) }
        }
        guard connected == 0 else { throw ValidationError("cannot connect to the loopback listener") }
        let frame = [UInt8](repeating: 0x5A, count: frameBytes)
        let start = ContinuousClock.now
        for _ in 0..<frames {
            var offset = 0
            while offset < frameBytes {
                let n = frame[offset...].withUnsafeBytes { write(sender, $0.baseAddress, $0.count) }
                guard n > 0 else { throw ValidationError("loopback write failed") }
                offset += n
            }
        }
        shutdown(sender, Int32(SHUT_WR))
        while !reader.isFinished { usleep(1000) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        close(sender)
        close(listener)
        print(
            String(
                format: "loopback: %d frames of %d KB in %.2f s: %.0f frames/s, %.1f MB/s", frames, frameBytes / 1000,
                seconds, Double(frames) / seconds, Double(total) / seconds / 1e6))
        BenchResult(["frames_per_second": Double(frames) / seconds]).print()
    }
}
