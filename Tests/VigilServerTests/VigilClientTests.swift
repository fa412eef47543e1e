import Foundation
import NIOCore
import Synchronization
import Testing
import VigilAPI
import VigilClient
import VigilCore
import VigilSources

/// `VigilClient` and `IngestUploader` against a real server: every answer
/// is read into the typed records, and every message the server sends on
/// the events socket decodes as a `ServerMessage`.
@Suite(.serialized) struct VigilClientTests {
    static let config = """
        cameras:
          pattern:
            source: {kind: testpattern, width: 160, height: 120, fps: 10}
          door:
            source: {kind: push}
        """

    func jpeg(_ index: Int) throws -> ByteBuffer {
        let renderer = try TestPatternRenderer(label: "client", width: 160, height: 120, quality: 90)
        return try renderer.render(index: index, noise: 0).buffer
    }

    @Test func camerasStartStopAndErrorsAreTyped() async throws {
        try await withServer(config: Self.config) { server, _ in
            let vigil = try VigilClient(url: "http://127.0.0.1:\(server.port)/")
            let cameras = try await vigil.cameras()
            #expect(cameras.map(\.id) == ["pattern", "door"])
            #expect(cameras.first?.kind == "testpattern")

            let stopped = try await vigil.stop("pattern")
            #expect(stopped.desired == .stopped)
            try await waitUntil("pattern stopped") { try await vigil.camera("pattern").phase == .stopped }
            let started = try await vigil.start("pattern")
            #expect(started.desired == .running)
            #expect(started.version > stopped.version)

            await #expect(
                throws: VigilClientError(status: 404, code: "unknown_camera", message: "no camera named 'nope'")
            ) {
                try await vigil.camera("nope")
            }
            let refused = await #expect(throws: VigilClientError.self) {
                try await vigil.pushFrame(ByteBuffer(string: "not a jpeg"), to: "door")
            }
            #expect(refused?.status == 400 && refused?.code == "invalid_jpeg")
        }
    }

    @Test func aCaptureIsTakenFollowedAndDownloaded() async throws {
        try await withServer(config: Self.config) { server, _ in
            let vigil = try VigilClient(url: "http://127.0.0.1:\(server.port)")
            try await waitUntil("pattern live") { try await vigil.camera("pattern").phase == .live }
            let capture = try await vigil.takeCapture(camera: "pattern", timeout: .seconds(30))
            #expect(capture.status == .done, "\(capture)")
            #expect(capture.image == APIPath.captureImage(capture.id))
            #expect(capture.width == 160 && capture.height == 120)
            let image = try await vigil.captureImage(capture.id)
            #expect(image.readableBytes == capture.bytes)
            #expect(image.getBytes(at: image.readerIndex, length: 2) == [0xFF, 0xD8])
            #expect(try await vigil.captures(camera: "pattern").map(\.id) == [capture.id])
            #expect(try await vigil.captureActivity(camera: "pattern").isCapturing == false)
        }
    }

    @Test func pushedFramesAreTheSnapshot() async throws {
        try await withServer(config: Self.config) { server, _ in
            let vigil = try VigilClient(url: "http://127.0.0.1:\(server.port)")
            let frame = try jpeg(3)
            let pushed = try await vigil.pushFrame(frame, to: "door")
            #expect(pushed.width == 160 && pushed.bytes == frame.readableBytes)
            #expect(try await vigil.snapshot("door") == frame)
        }
    }

    /// Frames from memory for the uploader.
    struct MemoryFrames: UploadFrames {
        let jpegs: [ByteBuffer]
        var count: Int { jpegs.count }
        var name: String { "memory" }

        func frames(from skip: Int, _ body: (ByteBuffer) async throws -> Bool) async throws {
            for jpeg in jpegs.dropFirst(skip) where try await !body(jpeg) { return }
        }
    }

    @Test func anUploadCompletesAndItsSessionReadsBack() async throws {
        try await withServer(config: Self.config) { server, _ in
            let vigil = try VigilClient(url: "http://127.0.0.1:\(server.port)")
            let frames = MemoryFrames(jpegs: try (0..<12).map { try jpeg($0) })
            let uploader = IngestUploader(
                client: vigil, frames: frames, attachments: [("notes.txt", Data("hello".utf8))], camera: "door")
            let seen = Mutex<[String]>([])
            let totals = try await uploader.run { progress in
                if case .started(_, let nextSeq, let resumed) = progress {
                    seen.withLock { $0.append("started \(nextSeq) \(resumed)") }
                }
            }
            #expect(totals.frames == 12)
            #expect(seen.withLock { $0 } == ["started 0 false"])
            let session = try await vigil.session(totals.sessionID)
            #expect(session.state == .complete)
            #expect(session.frames == 12 && session.bytes == totals.bytes)
            #expect(session.attachments == ["notes.txt"])
            #expect(session.metadata == ["source": "memory", "frames": 12])
            #expect(try await vigil.sessions().first?.sessionID == totals.sessionID)
        }
    }

    @Test func everyEventsSocketMessageDecodes() async throws {
        try await withServer(config: Self.config) { server, _ in
            let vigil = try VigilClient(url: "http://127.0.0.1:\(server.port)")
            let socket = try await WSTestClient.connect(port: server.port, path: APIPath.eventsSocket)
            defer { Task { await socket.close() } }
            guard case .text(let helloText) = try await socket.next() else {
                Issue.record("the first message is text")
                return
            }
            guard case .hello(let hello) = try WireJSON.decode(ServerMessage.self, from: helloText) else {
                Issue.record("the first message is hello: \(helloText)")
                return
            }
            #expect(hello.cameras.map(\.id) == ["pattern", "door"])
            try await waitUntil("pattern live") { try await vigil.camera("pattern").phase == .live }
            let capture = try await vigil.takeCapture(camera: "pattern", timeout: .seconds(30))
            // Every message up to the capture's end decodes, versions rise.
            var version = hello.version
            var kinds: [String] = []
            while !kinds.contains("capture_done") {
                guard case .text(let text) = try await socket.next() else { continue }
                let message = try WireJSON.decode(ServerMessage.self, from: text)
                kinds.append(message.type)
                switch message {
                case .state(let stamped, _), .ping(let stamped):
                    #expect(stamped >= version)
                    version = max(version, stamped)
                case .capture(let change):
                    #expect(change.version > version && change.record.id == capture.id)
                    version = change.version
                default: break
                }
            }
            #expect(kinds.contains("capture_started"), "\(kinds)")
        }
    }
}
