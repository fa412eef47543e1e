import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A viewer that drains slower than its camera publishes gets frames that did
/// not wait in its socket buffers: the server paces it by what it has taken.
@Suite(.serialized) struct PacingTests {
    /// Frames of about 30-40 KB, each stamped with the time the camera wrote it.
    static let config = """
        cameras:
          cam:
            source:
              kind: exec
              command: ["\(Binaries.vigil)", fake-camera, --fps, "30", --size, 640x360, --quality, "85", --noise, "14", --distinct, "30", --timestamp]
        """

    /// When the camera wrote `jpeg` (`fake-camera --timestamp` puts it in a
    /// comment segment right after SOI).
    static func stamp(_ jpeg: [UInt8]) -> Double? {
        guard jpeg.count > 6, jpeg[0...3] == [0xFF, 0xD8, 0xFF, 0xFE] else { return nil }
        let length = Int(jpeg[4]) << 8 | Int(jpeg[5])
        guard jpeg.count >= 4 + length else { return nil }
        let text = String(decoding: jpeg[6..<(4 + length)], as: UTF8.self)
        guard text.hasPrefix("vigil-ts=") else { return nil }
        return Double(text.dropFirst(9))
    }

    /// Reads frames over a connection that takes 2 KiB every 20 ms (about
    /// 100 kB/s, a third of what the camera sends) with a small receive
    /// buffer. The age of a frame when its last byte is read can never be
    /// less than the time it takes to read one frame at that pace; frames
    /// that waited behind others in the kernel's buffers (what an unpaced
    /// server does: several frames' worth) are older.
    @Test(arguments: ["mjpeg", "websocket"])
    func aSlowViewerGetsFramesThatDidNotWaitInItsBuffers(kind: String) async throws {
        try await withServer(config: Self.config) { server, _ in
            var read: () throws -> [UInt8]
            let connection: HTTPConnection
            if kind == "mjpeg" {
                connection = try HTTPConnection(port: server.port, timeout: 30, receiveBuffer: 16384)
                try connection.send("GET /cameras/cam/stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let (status, _) = try connection.readHead()
                #expect(status == 200)
                read = {
                    var length = 0
                    while true {
                        let line = try connection.readLine()
                        if line.lowercased().hasPrefix("content-length:") {
                            length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                        }
                        if line.isEmpty, length > 0 { return try connection.readExactly(length) }
                    }
                }
            } else {
                let socket = try RawWebSocket(
                    port: server.port, path: "/cameras/cam/live", receiveBuffer: 16384, timeout: 30)
                connection = socket.connection
                read = {
                    while true {
                        let message = try socket.readMessage()
                        if message.opcode == 0x2 { return message.payload }
                    }
                }
            }
            connection.readLimit = (2048, .milliseconds(20))
            var ages: [Double] = []
            var bytes = 0
            var started: Double?
            var stamped = 0
            // A placeholder card may come first: it has no stamp.
            for _ in 0..<40 where stamped < 16 {
                let jpeg = try read()
                let now = Date().timeIntervalSince1970
                guard let taken = Self.stamp(jpeg) else { continue }
                stamped += 1
                // The first frames are read at full speed before the buffers fill.
                guard stamped > 4 else { continue }
                if started == nil {
                    started = now
                } else {
                    bytes += jpeg.count
                }
                ages.append(now - taken)
            }
            #expect(stamped == 16, "frames carry the camera's stamp")
            guard let started, ages.count > 2 else { return }
            let rate = Double(bytes) / (Date().timeIntervalSince1970 - started)
            let frameTime = Double(bytes) / Double(ages.count - 1) / rate
            let median = ages.sorted()[ages.count / 2]
            #expect(
                median < 2.5 * frameTime,
                "\(kind): frames were \(Int(median * 1000)) ms old (median) while one takes \(Int(frameTime * 1000)) ms to read at \(Int(rate / 1000)) kB/s"
            )
        }
    }
}
