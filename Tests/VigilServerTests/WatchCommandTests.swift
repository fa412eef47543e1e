import Foundation
import Synchronization
import Testing
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// `vigil watch` as a detector would run it: a line on stdin asks for a
/// frame; a fresh one is saved, and while the camera is stale the save is
/// refused with the reason, never served from an old frame.
@Suite(.serialized) struct WatchCommandTests {
    /// A `vigil watch` child with a pipe on stdin and its stdout collected.
    final class Watcher: @unchecked Sendable {
        let process = Process()
        let input = Pipe()
        let output = LogBuffer()

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: Binaries.vigil)
            process.arguments = ["watch"] + arguments
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            process.standardInput = input
            output.collect(from: stdout)
            try process.run()
        }

        /// Lines it printed.
        var lines: [Substring] { output.text.split(separator: "\n") }

        /// Asks for a save; the line it answered with.
        func ask() async throws -> Substring {
            let before = lines.count
            input.fileHandleForWriting.write(Data("detected\n".utf8))
            try await waitUntil("vigil watch answers") { lines.count > before }
            return lines[before]
        }

        func stop() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    @Test func savesOnlyFreshFramesAndSaysWhyNot() async throws {
        let config = """
            cameras:
              door:
                source: {kind: push}
                stale_after: 1s
            """
        try await withServer(config: config) { server, dir in
            let renderer = try TestPatternRenderer(label: "door", width: 160, height: 120, quality: 80)
            let frames = try (0..<3).map { FaultyMJPEGUpstream.bytes(try renderer.render(index: $0)) }
            let push = { (index: Int) in
                let answer = try HTTPTestClient.request(
                    port: server.port, "POST", "/api/v1/cameras/door/frames", body: frames[index])
                #expect(answer.status == 200, "\(answer.text)")
            }
            let saveDir = dir.file("shots")
            let watcher = try Watcher([
                "http://127.0.0.1:\(server.port)", "door", "--save-dir", saveDir, "--save-on", "stdin",
                "--max-frame-age", "800ms", "--status-every", "0",
            ])
            defer { watcher.stop() }

            // Before any frame: refused, with the reason.
            let early = try await watcher.ask()
            #expect(early.hasPrefix("not saved (asked on stdin): no frame received yet"), "\(early)")

            // Fresh frames: saved, and the file is the frame the camera had.
            try push(0)
            try await waitUntil("door live") {
                try HTTPTestClient.camera(port: server.port, "door")["phase"] as? String == "live"
            }
            try push(1)
            var saved = try await watcher.ask()
            // The frame may still be on its way to the watcher: ask again.
            for _ in 0..<20 where !saved.hasPrefix("saved ") {
                try push(1)
                saved = try await watcher.ask()
            }
            #expect(saved.hasPrefix("saved "), "\(saved)")
            let path = String(saved.dropFirst(6).prefix { $0 != " " })
            let file = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
            #expect(file == frames[0] || file == frames[1], "the saved file is not a frame the camera had")

            // The camera goes stale: every ask is refused, no file written.
            try await waitUntil("door stale") {
                try HTTPTestClient.camera(port: server.port, "door")["phase"] as? String == "stale"
            }
            // The watcher learns the camera's state from its own socket, a
            // moment after the API has it: every answer until then is a
            // refusal too (the frame is too old), then it names the state.
            var refused = try await watcher.ask()
            try await waitUntil("vigil watch says the camera is stale") {
                #expect(refused.hasPrefix("not saved (asked on stdin): the newest frame is"), "\(refused)")
                if refused.contains("camera door is stale") { return true }
                refused = try await watcher.ask()
                return false
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: saveDir)
            #expect(files.count == 1, "\(files)")

            // Frames again: saved again.
            try push(2)
            var again = try await watcher.ask()
            for _ in 0..<20 where !again.hasPrefix("saved ") {
                try push(2)
                again = try await watcher.ask()
            }
            #expect(again.hasPrefix("saved "), "\(again)")
            #expect(watcher.process.isRunning, "vigil watch runs until it is stopped")
        }
    }
}

/// `vigil watch --save-on motion` and `every:`: a save for each motion start
/// of the camera, and on a timer while frames are fresh.
@Suite(.serialized, .timeLimit(.minutes(2))) struct WatchTriggerTests {
    @Test func eachMotionStartSavesAFrameTheCameraHad() async throws {
        let config = """
            cameras:
              door:
                source: {kind: push}
                stale_after: 30s
                motion: {enabled: true, analysis_fps: 10, threshold: 1, pre_capture: 500ms, post_capture: 1s, event_gap: 2s}
            """
        try await withServer(config: config) { server, dir in
            let saveDir = dir.file("motion-shots")
            let watcher = try WatchCommandTests.Watcher([
                "http://127.0.0.1:\(server.port)", "door", "--save-dir", saveDir, "--save-on", "motion",
                "--max-frame-age", "2s", "--status-every", "0",
            ])
            defer { watcher.stop() }
            let pusher = MotionTests.Pusher(port: server.port)
            try await pusher.push(10, moving: false)
            try await pusher.push(20, moving: true)
            try await waitUntil("a save on motion") { watcher.lines.contains { $0.contains("(motion event ") } }
            let line = try #require(watcher.lines.first { $0.contains("(motion event ") })
            #expect(line.hasPrefix("saved "), "\(line)")
            let path = String(line.dropFirst(6).prefix { $0 != " " })
            let file = try #require(FileManager.default.contents(atPath: path))
            #expect(pusher.sent[[UInt8](file)] != nil, "the saved file is a frame the camera had")
        }
    }

    @Test func aTimerSavesWhileFreshAndSaysWhyNotWhenStale() async throws {
        let config = """
            cameras:
              door: {source: {kind: push}, stale_after: 1s}
            """
        try await withServer(config: config) { server, dir in
            let watcher = try WatchCommandTests.Watcher([
                "http://127.0.0.1:\(server.port)", "door", "--save-dir", dir.file("timed"), "--save-on", "every:300ms",
                "--max-frame-age", "800ms", "--status-every", "0",
            ])
            defer { watcher.stop() }
            let pusher = MotionTests.Pusher(port: server.port)
            try await pusher.push(20, moving: false, fps: 20)
            try await waitUntil("a timed save") { watcher.lines.contains { $0.hasPrefix("saved ") } }
            try await waitUntil("refusals once frames stop") {
                watcher.lines.last?.hasPrefix("not saved (timer): the newest frame is") == true
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("timed"))
            #expect(files.count == watcher.lines.filter { $0.hasPrefix("saved ") }.count)
        }
    }
}
