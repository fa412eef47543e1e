import Foundation
import Testing
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

/// Motion events on a real server: a push camera fed frames over HTTP,
/// `motion_start`/`motion_end` on the events socket, the events API, the
/// clip and thumbnail files, hooks, and a SIGKILL during an event.
@Suite(.serialized) struct MotionTests {
    /// 320x240 grey room, a dark square at `square`, the frame number in a corner.
    static func frame(_ index: Int, square: (x: Int, y: Int)?) throws -> [UInt8] {
        var canvas = RGBCanvas(width: 320, height: 240, fill: (120, 120, 120))
        canvas.fillRect(x: 0, y: 200, width: 320, height: 40, color: (60, 80, 60))
        if let square { canvas.fillRect(x: square.x, y: square.y, width: 40, height: 40, color: (20, 20, 20)) }
        canvas.drawText(String(index), x: 4, y: 4, scale: 1, color: (200, 200, 200))
        let jpeg = try JPEGEncoder(quality: 85).encode(canvas)
        return jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
    }

    static func config(motion: String, extra: String = "") -> String {
        """
        \(extra)
        cameras:
          door:
            source: {kind: push}
            stale_after: 30s
            max_frame_age: 700ms
            motion: {enabled: true, analysis_fps: 10, threshold: 1, \(motion)}
        """
    }

    /// Pushes frames at about `fps`; returns what was pushed, by index.
    final class Pusher: @unchecked Sendable {
        let port: Int
        var index = 0
        var sent: [[UInt8]: Int] = [:]
        init(port: Int) { self.port = port }

        func push(_ count: Int, moving: Bool, fps: Double = 20) async throws {
            for _ in 0..<count {
                let i = index
                index += 1
                let jpeg = try MotionTests.frame(i, square: moving ? (20 + (i % 30) * 8, 60) : nil)
                sent[jpeg] = i
                let response = try HTTPTestClient.request(port: port, "POST", "/api/v1/cameras/door/frames", body: jpeg)
                #expect(response.status == 200, "\(response.text)")
                try await Task.sleep(for: .milliseconds(Int64(1000 / fps)))
            }
        }
    }

    /// The parts of an MJPEG clip body.
    static func parts(_ body: [UInt8], dir: TempDir) throws -> [ClipReader.Part] {
        let path = dir.file("clip-\(UUID().uuidString).mjpg")
        try Data(body).write(to: URL(fileURLWithPath: path))
        let reader = try ClipReader(path: path)
        var parts: [ClipReader.Part] = []
        while let part = try reader.next() { parts.append(part) }
        return parts
    }

    @Test func aMovingSquareIsRecordedAnnouncedAndServedWithoutAStaleFrame() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let receiver = try HookReceiver(statuses: [500, 204])
        defer { receiver.stop() }
        let hooksFile = dir.file("hooks.jsonl")
        let motion = """
            pre_capture: 500ms, post_capture: 1s, event_gap: 3s,
                      on_event_start: [/bin/sh, -c, "cat >> '\(hooksFile)'; echo >> '\(hooksFile)'"],
                      on_event_end: "http://127.0.0.1:\(receiver.port)/hook"
            """
        let server = try VigilProcess(config: Self.config(motion: motion), dir: dir)
        defer { server.stop() }
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        defer { Task { await events.close() } }
        #expect(try await events.nextJSON()["type"] as? String == "hello")

        let pusher = Pusher(port: server.port)
        try await pusher.push(20, moving: false)
        try await pusher.push(20, moving: true)
        let started = try await events.nextJSON(type: "motion_start")
        let id = try #require((started["event"] as? [String: Any])?["id"] as? String)
        #expect(started["camera"] as? String == "door")
        // The camera goes stale mid-event (nothing pushed for 2 s, max_frame_age 700 ms).
        let pauseStart = Date().timeIntervalSince1970
        try await Task.sleep(for: .seconds(2))
        let pauseEnd = Date().timeIntervalSince1970
        try await pusher.push(20, moving: true)
        // Still frames for longer than event_gap: the event ends while frames still come.
        try await pusher.push(80, moving: false)
        let ended = try await events.nextJSON(type: "motion_end", timeout: .seconds(30))
        let summary = try #require(ended["event"] as? [String: Any])
        #expect(summary["id"] as? String == id)
        #expect(summary["status"] as? String == "complete")

        let list = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events?camera=door").jsonArray()
        try #require(list.count == 1)
        let event = list[0]
        #expect(event["id"] as? String == id)
        #expect(event["stale_gaps"] as? Int == 1, "the pause is recorded")
        #expect(event["no_fresh_frame"] as? Bool == false)
        let frames = try #require(event["frames"] as? Int)
        #expect((event["pre_frames"] as? Int ?? 0) > 0)
        #expect(event["clip"] as? String == "/api/v1/events/\(id)/clip.mjpg")
        let detail = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)").json()
        #expect(detail["frames"] as? Int == frames)

        // The clip: every frame once, as pushed, in order, none from the pause.
        let clip = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)/clip.mjpg?pace=0")
        #expect(clip.status == 200)
        #expect(clip.headers["content-type"]?.hasPrefix("multipart/x-mixed-replace") == true)
        let parts = try Self.parts(clip.body, dir: dir)
        #expect(parts.count == frames)
        let indices = parts.map { pusher.sent[Array($0.jpeg.readableBytesView)] ?? -1 }
        #expect(!indices.contains(-1), "only pushed frames")
        #expect(indices == indices.sorted() && Set(indices).count == indices.count, "in order, none repeated")
        #expect(indices.contains(40) || indices.contains(41), "frames after the pause are recorded")
        #expect(!parts.contains { $0.timestamp > pauseStart + 0.3 && $0.timestamp < pauseEnd - 0.1 })
        let thumbnail = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)/thumbnail.jpg")
        #expect(thumbnail.status == 200 && thumbnail.headers["content-type"] == "image/jpeg")
        #expect(pusher.sent[thumbnail.body] != nil, "the thumbnail is a recorded frame")

        // At the recorded pace the clip takes about as long as it lasted
        // (the 2 s pause is shortened to 2 s at most).
        let span = (parts.last?.timestamp ?? 0) - (parts.first?.timestamp ?? 0)
        let began = Date()
        let paced = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)/clip.mjpg")
        #expect(paced.body == clip.body)
        #expect(
            Date().timeIntervalSince(began) > span * 0.8, "paced: \(Date().timeIntervalSince(began)) s for \(span) s")

        // Hooks: the command got the start on stdin; the webhook got the end, retried after a 500.
        try await waitUntil("hooks ran", timeout: .seconds(20)) {
            receiver.requests.count >= 2
                && ((try? String(contentsOfFile: hooksFile, encoding: .utf8)) ?? "").contains(id)
        }
        let line = try String(contentsOfFile: hooksFile, encoding: .utf8).split(separator: "\n").first ?? ""
        let startHook = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(startHook?["type"] as? String == "motion_start")
        #expect((startHook?["event"] as? [String: Any])?["id"] as? String == id)
        #expect(receiver.requests.count == 2)
        for request in receiver.requests {
            #expect(request.path == "/hook")
            let body = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
            #expect(body?["type"] as? String == "motion_end")
            #expect((body?["event"] as? [String: Any])?["frames"] as? Int == frames)
        }

        // Bad requests get clear errors.
        func error(_ path: String) throws -> (Int, String?) {
            let response = try HTTPTestClient.request(port: server.port, "GET", path)
            return (response.status, try? response.json()["error"] as? String)
        }
        #expect(try error("/api/v1/events/nope") == (404, "unknown_event"))
        #expect(try error("/api/v1/events/../../etc/passwd/clip.mjpg").0 == 404)
        #expect(try error("/api/v1/events?limit=0") == (400, "bad_parameter"))
        #expect(try error("/api/v1/events?since=yesterday") == (400, "bad_parameter"))
        #expect(try error("/api/v1/events/\(id)/clip.mjpg?pace=fast") == (400, "bad_parameter"))
        let future = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events?since=2100-01-01T00:00:00Z")
        #expect(try future.jsonArray().isEmpty)
        let since = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events?since=\(Int(pauseStart) - 60)")
        #expect(try since.jsonArray().count == 1)
    }

    @Test func aServerKilledDuringAnEventLeavesNoRowPointingAtAMissingOrPartialFile() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let dataDir = dir.file("data")
        let config = Self.config(motion: "pre_capture: 500ms, post_capture: 5s, event_gap: 10s")
        var server = try VigilProcess(config: config, dir: dir, dataDir: dataDir)
        let pusher = Pusher(port: server.port)
        try await pusher.push(10, moving: false)
        try await pusher.push(10, moving: true)
        try await waitUntil("an event recording", timeout: .seconds(20)) {
            let list = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events").jsonArray()
            return list.first?["status"] as? String == "recording"
        }
        // Frames keep coming while the server is killed.
        let feeding = Task { try await pusher.push(200, moving: true) }
        try await waitUntil("frames written", timeout: .seconds(20)) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/events")) ?? []
            return names.contains { name in
                name.hasPrefix(".partial-") && name.hasSuffix(".mjpg")
                    && ((try? FileManager.default.attributesOfItem(atPath: dataDir + "/events/" + name)[.size] as? Int)
                        ?? 0) > 100_000
            }
        }
        kill(server.pid, SIGKILL)
        server.process.waitUntilExit()
        feeding.cancel()
        _ = await feeding.result

        server = try VigilProcess(config: config, dir: dir, dataDir: dataDir)
        defer { server.stop() }
        let list = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events").jsonArray()
        try #require(list.count == 1)
        let event = list[0]
        let id = try #require(event["id"] as? String)
        #expect(event["status"] as? String == "interrupted")
        let frames = try #require(event["frames"] as? Int)
        #expect(frames > 5, "the frames written before the kill are kept")
        let clip = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)/clip.mjpg?pace=0")
        #expect(clip.status == 200)
        #expect(try Self.parts(clip.body, dir: dir).count == frames, "whole frames only")
        let thumbnail = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/events/\(id)/thumbnail.jpg")
        #expect(thumbnail.status == 200 && pusher.sent[thumbnail.body] != nil)
        let names = try FileManager.default.contentsOfDirectory(atPath: dataDir + "/events")
        #expect(Set(names) == ["\(id).mjpg", "\(id).jpg"], "no partial or orphan file: \(names)")
    }
}
