import Foundation
import NIOCore
import NIOWebSocket
import Testing
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// Upload sessions over `WS /api/v1/ingest` against a real `vigil serve`.
@Suite(.serialized) struct IngestTests {
    static func frames(_ count: Int, width: Int = 320, height: Int = 240, noise: Int = 10) throws -> [[UInt8]] {
        let renderer = try TestPatternRenderer(label: "ingest", width: width, height: height, quality: 85)
        return try (0..<count).map { FaultyMJPEGUpstream.bytes(try renderer.render(index: $0, noise: noise)) }
    }

    static func sessionDir(_ server: VigilProcess, _ id: String) -> String {
        server.dataDir + "/sessions/" + id
    }

    static func start(_ client: WSTestClient, _ extra: String = "") async throws -> (id: String, next: Int) {
        try await client.send(text: #"{"type":"session_start"\#(extra)}"#)
        let started = try await client.nextJSON()
        guard started["type"] as? String == "session_started", let id = started["session_id"] as? String else {
            throw HTTPTestError(description: "no session_started: \(started)")
        }
        return (id, started["next_seq"] as? Int ?? -1)
    }

    /// Writes an MJPEG file of `count` frames with `vigil fake-camera`.
    static func recording(_ dir: TempDir, count: Int) throws -> String {
        let path = dir.file("recording.mjpg")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.vigil)
        process.arguments = [
            "fake-camera", "--fps", "1000", "--size", "320x240", "--distinct", "40", "--noise", "10",
            "--exit-after", "\(count)",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: path)
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return path
    }

    @Test func aLongSessionGoesToDiskAndServerMemoryStaysFlat() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(
            config: "ingest: {ack_every: 50}\ncameras:\n  idle: {source: {kind: push}}\n", dir: dir)
        defer { server.stop() }
        let distinct = try Self.frames(20, width: 480, height: 360, noise: 20)
        let client = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        let (id, next) = try await Self.start(client)
        #expect(next == 0)
        var sent = 0
        var bytes = 0
        var rssAt200 = 0
        for index in 0..<2000 {
            let frame = distinct[index % distinct.count]
            try await client.send(binary: frame)
            sent += 1
            bytes += frame.count
            if index == 199 {
                _ = try await client.nextJSON(type: "ack")  // let the server catch up before sampling
                rssAt200 = ProcFS.rss(pid: server.pid) ?? 0
            }
        }
        try await client.send(text: #"{"type":"session_end","frames":2000}"#)
        let ended = try await client.nextJSON(type: "session_ended", timeout: .seconds(120))
        #expect(ended["frames"] as? Int == 2000)
        #expect(ended["bytes"] as? Int == bytes)
        let rssAt2000 = ProcFS.rss(pid: server.pid) ?? 0
        let growth = rssAt2000 - rssAt200
        print(
            "ingest: \(bytes / 1_000_000) MB in 2000 frames; server RSS \(rssAt200 / 1024) -> \(rssAt2000 / 1024) KiB")
        #expect(
            growth < bytes / 5, "RSS grew \(growth / 1024) KiB over 1800 frames (\(bytes * 9 / 10 / 1024) KiB sent)")
        _ = try await client.nextJSON(type: "complete")
        let stored = try #require(FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/frames.mjpg"))
        #expect(stored.count == bytes)
        let record = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions/\(id)").json()
        #expect(record["frames"] as? Int == 2000 && record["state"] as? String == "complete")
        await client.close()
    }

    @Test func everyBadMessageGetsAnErrorThatNamesIt() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            ingest: {max_frame_bytes: 100000, max_attachment_bytes: 1000, ack_every: 2}
            cameras:
              door: {source: {kind: push}}
              pattern: {source: {kind: testpattern, width: 160, height: 120, fps: 5}}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        let good = try Self.frames(3, width: 160, height: 120)
        let client = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        func expectError(_ code: String, _ comment: Comment) async throws {
            let error = try await client.nextJSON(type: "error")
            #expect(error["code"] as? String == code, comment)
            #expect((error["message"] as? String)?.isEmpty == false)
        }
        try await client.send(binary: good[0])
        try await expectError("no_session", "a frame before session_start")
        try await client.send(text: "not json at all")
        try await expectError("bad_json", "text that is not JSON")
        try await client.send(text: #"{"type":"dance"}"#)
        try await expectError("unknown_type", "an unknown type")
        try await client.send(text: #"{"type":"session_start","camera":"pattern"}"#)
        try await expectError("not_push_camera", "frames can be shown only on a push camera")
        let (id, _) = try await Self.start(client, #","camera":"door","metadata":{"run":7}"#)
        try await client.send(text: #"{"type":"session_start"}"#)
        try await expectError("session_already_started", "a second session_start on the same socket")
        try await client.send(binary: [0x00, 0x01, 0x02, 0x03])
        try await expectError("invalid_jpeg", "a binary message that is not a JPEG")
        try await client.send(binary: [0xFF, 0xD8] + [UInt8](repeating: 0x11, count: 150_000) + [0xFF, 0xD9])
        try await expectError("frame_too_large", "a frame over max_frame_bytes")
        try await client.send(
            text:
                #"{"type":"attachment","name":"big.txt","encoding":"utf8","data":"\#(String(repeating: "x", count: 2000))"}"#
        )
        try await expectError("attachment_too_large", "an attachment over the limit")
        try await client.send(text: #"{"type":"attachment","name":"../etc/passwd","data":"x"}"#)
        try await expectError("bad_attachment", "an attachment name that is a path")
        // The session went on through all of that.
        try await client.send(
            text: #"{"type":"attachment","name":"signal.csv","encoding":"base64","data":"YSxiCjEsMgo="}"#)
        let saved = try await client.nextJSON(type: "attachment_saved")
        #expect(saved["bytes"] as? Int == 8)
        for frame in good { try await client.send(binary: frame) }
        let ack = try await client.nextJSON(type: "ack")
        #expect(ack["received"] as? Int == 2)
        try await client.send(text: #"{"type":"session_end","frames":5}"#)
        let ended = try await client.nextJSON(type: "session_ended")
        #expect(ended["frames"] as? Int == 3, "only the three good frames were stored")
        try await expectError("frame_count_mismatch", "the client counted differently")
        _ = try await client.nextJSON(type: "complete")
        let stored = FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/frames.mjpg")
        #expect(stored == Data(good.joined()))
        #expect(
            FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/attachments/signal.csv")
                == Data("a,b\n1,2\n".utf8))
        // The pushed frames were shown live on the push camera.
        let snapshot = try HTTPTestClient.request(port: server.port, "GET", "/cameras/door/snapshot.jpg")
        #expect(snapshot.body == good[2])
        let record = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions/\(id)").json()
        #expect(record["attachments"] as? [String] == ["signal.csv"])
        #expect((record["metadata"] as? [String: Any])?["run"] as? Int == 7)
        await client.close()
        #expect(try HTTPTestClient.request(port: server.port, "GET", "/healthz").text == "ok")
    }

    @Test func limitsCloseTheSocketWithAReason() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            ingest: {max_sessions: 20, max_session_bytes: 40000, idle_timeout: 1s}
            cameras:
              idle: {source: {kind: push}}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        // 20 sessions at once are fine; the 21st is refused.
        var clients: [WSTestClient] = []
        for _ in 0..<20 {
            let client = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
            _ = try await Self.start(client)
            clients.append(client)
        }
        let extra = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        try await extra.send(text: #"{"type":"session_start"}"#)
        #expect(try await extra.nextJSON()["code"] as? String == "too_many_sessions")
        let refused = try await extra.closed()
        #expect(refused?.closeCode == WebSocketErrorCode(codeNumber: 1013))
        for client in clients { await client.close() }

        // A session over max_session_bytes is stopped.
        let frames = try Self.frames(8, width: 320, height: 240)
        let big = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        _ = try await Self.start(big)
        var code: String?
        for frame in frames where code == nil {
            try? await big.send(binary: frame)
            if let error = try? await big.nextJSON(type: "error", timeout: .milliseconds(200)) {
                code = error["code"] as? String
            }
        }
        if code == nil { code = try await big.nextJSON(type: "error")["code"] as? String }
        #expect(code == "session_too_large")
        #expect(try await big.closed()?.closeCode == .messageTooLarge)

        // A silent socket is closed after idle_timeout.
        let silent = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        #expect(try await silent.nextJSON(timeout: .seconds(10))["code"] as? String == "idle_timeout")
        let idle = try await silent.closed()
        #expect(idle?.closeCode == .goingAway && idle?.reason?.contains("idle") == true)
    }

    @Test func aDroppedUploadResumesWithVigilPushByteForByte() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(
            config: "ingest: {ack_every: 25}\ncameras:\n  idle: {source: {kind: push}}\n", dir: dir)
        defer { server.stop() }
        let recording = try Self.recording(dir, count: 2000)
        let source = try #require(FileManager.default.contents(atPath: recording))
        // The link drops after about 700 frames' worth of bytes, mid-frame.
        let proxy = try CuttingProxy(upstreamPort: server.port, cutAfter: source.count * 700 / 2000 + 333)
        defer { proxy.stop() }
        let signal = dir.file("signal.csv")
        try "t,value\n0,1\n".write(toFile: signal, atomically: true, encoding: .utf8)
        let (status, stdout, stderr) = try Binaries.run(
            ["push", "http://127.0.0.1:\(proxy.port)", recording, "--attach", signal])
        #expect(status == 0, "\(stderr)")
        #expect(stdout.contains("complete"), "\(stdout)")
        #expect(stderr.contains("resumed session"), "the upload was cut and resumed: \(stderr)")
        #expect(proxy.connectionCount >= 2)
        let sessions = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions").jsonArray()
        #expect(sessions.count == 1)
        let id = try #require(sessions.first?["session_id"] as? String)
        #expect(sessions.first?["frames"] as? Int == 2000)
        let stored = FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/frames.mjpg")
        #expect(stored == source, "exactly the source file: nothing lost, nothing twice")
        #expect(
            FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/attachments/signal.csv")
                == Data("t,value\n0,1\n".utf8))
        // The drop is logged once, as what it is, and nothing was sent on the closed socket.
        let log = server.output
        #expect(log.components(separatedBy: "client disconnected").count - 1 == 1, "\(log.suffix(2000))")
        #expect(!log.contains(" error "), "no error logged: \(log.suffix(2000))")
    }

    @Test func anInterruptedSessionExpiresAfterTheResumeWindowAndEventsTellTheStory() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(
            config: "ingest: {resume_window: 1s, ack_every: 1}\ncameras:\n  idle: {source: {kind: push}}\n", dir: dir)
        defer { server.stop() }
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        _ = try await events.nextJSON(type: "hello")
        let frames = try Self.frames(3, width: 160, height: 120)
        let client = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        let (id, _) = try await Self.start(client)
        for frame in frames { try await client.send(binary: frame) }
        _ = try await client.nextJSON(type: "ack")
        await client.close()
        var types: [String] = []
        while !types.contains("session_interrupted") {
            let event = try await events.nextJSON()
            if let type = event["type"] as? String, type.hasPrefix("session_") {
                #expect(event["session_id"] as? String == id)
                types.append(type)
            }
        }
        #expect(types == ["session_started", "session_interrupted"])
        try await waitUntil("the expired session is removed", timeout: .seconds(10)) {
            try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions/\(id)").status == 404
        }
        #expect(!FileManager.default.fileExists(atPath: Self.sessionDir(server, id)))
        let late = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        try await late.send(text: #"{"type":"session_start","session_id":"\#(id)"}"#)
        #expect(try await late.nextJSON(type: "error")["code"] as? String == "unknown_session")
        await late.close()
        await events.close()
    }

    @Test func processingReportsProgressAndItsResultSurvivesADisconnect() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let script = dir.file("process.sh")
        try """
        if [ -e "$1/attachments/fail" ]; then echo 'progress decode 10'; echo 'decoder crashed: bad marker' >&2; exit 3; fi
        if [ -e "$1/attachments/hang" ]; then exec sleep 100; fi
        echo 'progress decode 25'
        sleep 1
        echo 'progress analyse 75'
        sleep 1
        echo 'progress done 100'
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let config = """
            ingest: {process_command: [/bin/sh, \(script), "{session_dir}"], process_timeout: 3s}
            cameras:
              idle: {source: {kind: push}}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        let frames = try Self.frames(5, width: 160, height: 120)

        // The client leaves during processing and comes back for the result.
        let first = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        let (id, _) = try await Self.start(first)
        for frame in frames { try await first.send(binary: frame) }
        try await first.send(text: #"{"type":"session_end","frames":5}"#)
        _ = try await first.nextJSON(type: "session_ended")
        let progress = try await first.nextJSON(type: "progress")
        #expect(progress["stage"] as? String == "decode" && progress["percent"] as? Double == 25)
        await first.close()
        let second = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
        try await second.send(text: #"{"type":"session_status","session_id":"\#(id)"}"#)
        let status = try await second.nextJSON(type: "session_status")
        #expect(status["state"] as? String == "processing", "\(status)")
        let complete = try await second.nextJSON(type: "complete", timeout: .seconds(20))
        #expect(complete["session_id"] as? String == id && complete["frames"] as? Int == 5)
        let record = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions/\(id)").json()
        #expect(record["state"] as? String == "complete")
        #expect((record["progress"] as? [String: Any])?["stage"] as? String == "done")
        await second.close()

        // A command that fails, and one that hangs past process_timeout.
        for (marker, expected) in [("fail", "decoder crashed: bad marker"), ("hang", "timeout")] {
            let client = try await WSTestClient.connect(port: server.port, path: "/api/v1/ingest")
            _ = try await Self.start(client)
            try await client.send(text: #"{"type":"attachment","name":"\#(marker)","data":"1"}"#)
            try await client.send(binary: frames[0])
            try await client.send(text: #"{"type":"session_end","frames":1}"#)
            let error = try await client.nextJSON(type: "error", timeout: .seconds(20))
            #expect(error["code"] as? String == "processing_failed")
            #expect((error["message"] as? String)?.contains(expected) == true, "\(error)")
            await client.close()
        }
    }

    @Test func vigilPushSendsAFolderOfJPEGsInNameOrderAtTheRequestedPace() async throws {
        try await withServer(config: "cameras:\n  door: {source: {kind: push}}\n") { server, dir in
            let folder = dir.file("shots")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let frames = try Self.frames(6, width: 160, height: 120)
            for (index, frame) in frames.enumerated() {
                _ = FileManager.default.createFile(atPath: folder + "/shot-\(index).jpg", contents: Data(frame))
            }
            try "not a jpeg".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
            let started = ContinuousClock.now
            let result = try Binaries.run([
                "push", "http://127.0.0.1:\(server.port)", folder, "--fps", "10", "--camera", "door",
            ])
            let elapsed = ContinuousClock.now - started
            #expect(result.status == 0, "\(result.stderr)")
            #expect(elapsed >= .milliseconds(500), "6 frames at 10 fps take at least 0.5 s: \(elapsed)")
            let sessions = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/sessions").jsonArray()
            let id = try #require(sessions.first?["session_id"] as? String)
            #expect(sessions.first?["camera"] as? String == "door")
            let stored = FileManager.default.contents(atPath: Self.sessionDir(server, id) + "/frames.mjpg")
            #expect(stored == Data(frames.joined()), "the files in name order, the text file skipped")
            let snapshot = try HTTPTestClient.request(port: server.port, "GET", "/cameras/door/snapshot.jpg")
            #expect(snapshot.body == frames.last, "the frames were shown live on the push camera")
        }
    }
}
