import Foundation
import NIOCore
import Synchronization
import Testing
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// Still captures against a real `vigil serve`, with capture commands written
/// as small shell scripts: one that takes a while and writes a JPEG, one that
/// fails, one that hangs.
@Suite(.serialized) struct CaptureTests {
    /// What one viewer saw, stamped when it arrived.
    struct Seen: Sendable {
        var at: Date
        var placeholder: Bool
        /// For MJPEG parts: when the server got the frame (X-Timestamp).
        var frameTime: Double?
        var phase: String?
    }

    final class Log: Sendable {
        private let items = Mutex<[Seen]>([])
        private let ended = Mutex<String?>(nil)
        func add(_ seen: Seen) { items.withLock { $0.append(seen) } }
        var all: [Seen] { items.withLock { $0 } }
        func end(_ reason: String) { ended.withLock { $0 = reason } }
        /// Why the stream ended, if it did.
        var endReason: String? { ended.withLock { $0 } }
    }

    struct Setup {
        let dir: TempDir
        let fixture: [UInt8]
        let okScript: String
        let failScript: String
        let hangScript: String
        let partialScript: String

        init() throws {
            dir = try TempDir()
            let renderer = try TestPatternRenderer(label: "still", width: 320, height: 240, quality: 90)
            fixture = FaultyMJPEGUpstream.bytes(try renderer.render(index: 7, noise: 0))
            let fixturePath = dir.file("still.jpg")
            _ = FileManager.default.createFile(atPath: fixturePath, contents: Data(fixture))
            okScript = dir.file("ok.sh")
            try "sleep \"$2\"\ncp '\(fixturePath)' \"$1\"\n".write(toFile: okScript, atomically: true, encoding: .utf8)
            failScript = dir.file("fail.sh")
            try "echo 'starting capture' >&2\necho 'camera busy: PTP error 2019' >&2\nexit 7\n"
                .write(toFile: failScript, atomically: true, encoding: .utf8)
            hangScript = dir.file("hang.sh")
            try "echo $$ >> '\(dir.file("hang.pids"))'\nexec sleep 1000\n"
                .write(toFile: hangScript, atomically: true, encoding: .utf8)
            // Writes half an image, then hangs: a SIGKILL of the server lands mid-write.
            partialScript = dir.file("partial.sh")
            try "echo $$ >> '\(dir.file("partial.pids"))'\nhead -c 1000 '\(fixturePath)' > \"$1\"\nexec sleep 1000\n"
                .write(toFile: partialScript, atomically: true, encoding: .utf8)
        }
    }

    static func post(_ port: Int, _ path: String) throws -> HTTPTestResponse {
        try HTTPTestClient.request(port: port, "POST", path)
    }

    /// Waits on the events socket for the end of capture `id`.
    static func finished(_ events: WSTestClient, _ id: String, timeout: Duration = .seconds(30)) async throws
        -> [String: Any]
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            let event = try await events.nextJSON(timeout: deadline - ContinuousClock.now)
            guard let type = event["type"] as? String, type == "capture_done" || type == "capture_failed",
                let capture = event["capture"] as? [String: Any], capture["id"] as? String == id
            else { continue }
            return capture
        }
    }

    /// Reads an MJPEG stream on its own thread into `log` until it ends.
    static func watchMJPEG(port: Int, camera: String, log: Log) throws -> MJPEGTestStream {
        let stream = try MJPEGTestStream(port: port, path: "/cameras/\(camera)/stream.mjpg")
        // Only this thread reads the stream; it ends when the server closes it.
        nonisolated(unsafe) let reader = stream
        Thread.detachNewThread {
            do {
                while true {
                    let part = try reader.nextPart()
                    log.add(
                        Seen(at: Date(), placeholder: part.headers["x-placeholder"] == "1", frameTime: part.timestamp))
                }
            } catch {
                log.end("\(error)")
            }
        }
        return stream
    }

    /// Reads a live WebSocket into `log`: frames and phases.
    static func watchLive(_ client: WSTestClient, log: Log) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                guard let message = try? await client.next(timeout: .seconds(3600)) else { return }
                switch message {
                case .binary: log.add(Seen(at: Date(), placeholder: false))
                case .text(let text):
                    let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                    let phase = (object?["camera"] as? [String: Any])?["phase"] as? String
                    log.add(Seen(at: Date(), placeholder: false, phase: phase))
                }
            }
        }
    }

    func config(_ setup: Setup, booth: String, extra: String = "") -> String {
        """
        cameras:
          booth:
            source:
              kind: exec
              command: \(Binaries.fakeCameraCommand(["--fps", "15", "--size", "160x120", "--pid-file", setup.dir.file("booth.pids")]))
            stale_after: 2s
            max_frame_age: 1s
            capture: \(booth)
        \(extra)
        """
    }

    @Test func tenCapturesInARowNeverCloseAViewerAndLiveResumesAfterEach() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        let server = try VigilProcess(
            config: config(
                setup,
                booth: "{command: [/bin/sh, \(setup.okScript), \"{output}\", \"0.4\"], pause_live: true, queue: 4}"),
            dir: setup.dir)
        defer { server.stop() }
        try await waitUntil("booth live") {
            try HTTPTestClient.camera(port: server.port, "booth")["phase"] as? String == "live"
        }
        let mjpegLog = Log()
        _ = try Self.watchMJPEG(port: server.port, camera: "booth", log: mjpegLog)
        let live = try await WSTestClient.connect(port: server.port, path: "/cameras/booth/live")
        let liveLog = Log()
        let liveReader = Self.watchLive(live, log: liveLog)
        defer { liveReader.cancel() }
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        _ = try await events.nextJSON(type: "hello")

        // Request ten, as fast as the queue allows (429 means: wait for one to finish).
        var ids: [String] = []
        var refused = 0
        var done: [String: [String: Any]] = [:]
        while ids.count < 10 {
            let response = try Self.post(server.port, "/api/v1/cameras/booth/captures")
            if response.status == 429 {
                refused += 1
                #expect(try response.json()["error"] as? String == "queue_full")
                let waiting = try #require(ids.first { done[$0] == nil })
                done[waiting] = try await Self.finished(events, waiting)
                continue
            }
            #expect(response.status == 202)
            let body = try response.json()
            #expect(body["status"] as? String == "pending")
            ids.append(try #require(body["id"] as? String))
        }
        for id in ids where done[id] == nil {
            done[id] = try await Self.finished(events, id)
        }
        #expect(refused > 0, "the queue (4) filled up at least once")
        // Live frames after the last capture, on both viewers.
        let lastEnd = try #require(
            (done[ids.last!]?["finished_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        try await waitUntil("frames after the last capture", timeout: .seconds(10)) {
            mjpegLog.all.contains { !$0.placeholder && $0.at > lastEnd }
                && liveLog.all.contains { $0.phase == nil && $0.at > lastEnd }
        }

        var gaps: [Double] = []
        for (index, id) in ids.enumerated() {
            let capture = try #require(done[id])
            #expect(capture["status"] as? String == "done", "capture \(index + 1): \(capture["error"] ?? "")")
            let image = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(id)/image.jpg")
            #expect(image.status == 200 && image.body == setup.fixture, "capture \(index + 1) stored the still")
            let finishedAt = try #require(
                (capture["finished_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            let mjpegResumed = mjpegLog.all.first { !$0.placeholder && $0.at > finishedAt }
            let wsResumed = liveLog.all.first { $0.phase == nil && $0.at > finishedAt }
            let mjpegGap = mjpegResumed.map { $0.at.timeIntervalSince(finishedAt) }
            let wsGap = wsResumed.map { $0.at.timeIntervalSince(finishedAt) }
            #expect((mjpegGap ?? 99) < 1.0, "capture \(index + 1): MJPEG live again after \(mjpegGap ?? -1) s")
            #expect((wsGap ?? 99) < 1.0, "capture \(index + 1): WebSocket live again after \(wsGap ?? -1) s")
            if let mjpegGap { gaps.append(mjpegGap) }
        }
        gaps.sort()
        if !gaps.isEmpty {
            print(
                "capture end -> first live MJPEG frame: median \(Int(gaps[gaps.count / 2] * 1000)) ms, max \(Int(gaps.last! * 1000)) ms over \(gaps.count)"
            )
        }
        // Neither viewer was disconnected, and neither saw an old frame as live.
        #expect(mjpegLog.endReason == nil, "the MJPEG stream stayed open")
        for seen in mjpegLog.all where !seen.placeholder {
            let age = seen.at.timeIntervalSince1970 - (seen.frameTime ?? 0)
            #expect(age < 1.0, "a live part was \(age) s old")
        }
        var phase = "live"
        for seen in liveLog.all {
            if let next = seen.phase {
                phase = next
            } else {
                #expect(phase != "capturing", "no frame is sent while capturing")
            }
        }
        #expect(liveLog.all.contains { $0.phase == "capturing" }, "WebSocket viewers are told about the capture")
        #expect(mjpegLog.all.contains { $0.placeholder }, "MJPEG viewers got the capturing card")
        let state = try HTTPTestClient.camera(port: server.port, "booth")
        #expect(state["restarts"] as? Int == 0, "a capture's gap is not a failure")
        let pids = ProcFS.pids(inFile: setup.dir.file("booth.pids"))
        #expect(pids.count == 11, "a fresh camera process after each capture: \(pids.count)")
        await live.close()
        await events.close()
    }

    @Test func anEightSecondCaptureIsNotCountedAsStaleness() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        let server = try VigilProcess(
            config: config(
                setup, booth: "{command: [/bin/sh, \(setup.okScript), \"{output}\", \"8\"], pause_live: true}"),
            dir: setup.dir)
        defer { server.stop() }
        try await waitUntil("booth live") {
            try HTTPTestClient.camera(port: server.port, "booth")["phase"] as? String == "live"
        }
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        let hello = try await events.nextJSON(type: "hello")
        let response = try Self.post(server.port, "/api/v1/cameras/booth/captures")
        let id = try #require(try response.json()["id"] as? String)
        var phases = (hello["cameras"] as? [[String: Any]] ?? []).compactMap { $0["phase"] as? String }
        while true {
            let event = try await events.nextJSON(timeout: .seconds(30))
            if let camera = event["camera"] as? [String: Any], let phase = camera["phase"] as? String {
                if phases.last != phase { phases.append(phase) }
            }
            if event["type"] as? String == "capture_done" || event["type"] as? String == "capture_failed" {
                let capture = try #require(event["capture"] as? [String: Any])
                #expect(capture["id"] as? String == id && capture["status"] as? String == "done")
                #expect((capture["duration_ms"] as? Int ?? 0) >= 8000)
                break
            }
            if let activity = event["type"] as? String, activity == "capture_started" {
                let status = try HTTPTestClient.request(
                    port: server.port, "GET", "/api/v1/cameras/booth/capture/status"
                ).json()
                #expect(status["is_capturing"] as? Bool == true && status["capture_id"] as? String == id)
            }
        }
        #expect(phases == ["live", "capturing"], "8 s in `capturing`, never stale or recovering: \(phases)")
        _ = try await LiveSocketTests.waitForState(events) { $0["phase"] as? String == "live" }
        #expect(try HTTPTestClient.camera(port: server.port, "booth")["restarts"] as? Int == 0)
        await events.close()
    }

    @Test func aHungCaptureTimesOutAndAFailingOneReportsItsError() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        let extra = """
              bad:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
                capture: {command: [/bin/sh, \(setup.failScript), "{output}"]}
            """
        let server = try VigilProcess(
            config: config(
                setup, booth: "{command: [/bin/sh, \(setup.hangScript), \"{output}\"], pause_live: true, timeout: 2s}",
                extra: extra),
            dir: setup.dir)
        defer { server.stop() }
        try await waitUntil("booth live") {
            try HTTPTestClient.camera(port: server.port, "booth")["phase"] as? String == "live"
        }
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        _ = try await events.nextJSON(type: "hello")
        let hung = try #require(try Self.post(server.port, "/api/v1/cameras/booth/captures").json()["id"] as? String)
        let failing = try #require(try Self.post(server.port, "/api/v1/cameras/bad/captures").json()["id"] as? String)
        let failed = try await Self.finished(events, failing)
        #expect(failed["status"] as? String == "failed")
        #expect((failed["error"] as? String)?.contains("camera busy: PTP error 2019") == true, "\(failed)")
        let timedOut = try await Self.finished(events, hung)
        #expect(timedOut["status"] as? String == "failed")
        #expect((timedOut["error"] as? String)?.contains("timeout") == true, "\(timedOut)")
        _ = try await LiveSocketTests.waitForState(events) {
            $0["id"] as? String == "booth" && $0["phase"] as? String == "live"
        }
        let hangPIDs = ProcFS.pids(inFile: setup.dir.file("hang.pids"))
        #expect(hangPIDs.count == 1 && !ProcFS.exists(pid: hangPIDs[0]), "the hung command was killed and reaped")
        let record = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(hung)")
        #expect(try record.json()["status"] as? String == "failed")
        let image = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(hung)/image.jpg")
        #expect(image.status == 404)
        await events.close()
    }

    @Test func withoutACommandACaptureStoresOnlyAFreshFrame() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        let config = """
            cameras:
              door:
                source: {kind: push}
                stale_after: 1s
                max_frame_age: 500ms
                capture: {timeout: 2s}
              off:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
            """
        let server = try VigilProcess(config: config, dir: setup.dir)
        defer { server.stop() }
        let renderer = try TestPatternRenderer(label: "door", width: 160, height: 120, quality: 80)
        let old = FaultyMJPEGUpstream.bytes(try renderer.render(index: 1, noise: 0))
        let fresh = FaultyMJPEGUpstream.bytes(try renderer.render(index: 2, noise: 0))
        #expect(
            try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/frames", body: old).status
                == 200)
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        _ = try await events.nextJSON(type: "hello")
        // The pushed frame goes stale; a capture now must wait for a fresh one.
        _ = try await LiveSocketTests.waitForState(events) {
            $0["id"] as? String == "door" && $0["phase"] as? String == "stale"
        }
        let waiting = try #require(try Self.post(server.port, "/api/v1/cameras/door/captures").json()["id"] as? String)
        _ = try await events.nextJSON(type: "capture_started")
        #expect(
            try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/frames", body: fresh).status
                == 200)
        let stored = try await Self.finished(events, waiting)
        #expect(stored["status"] as? String == "done")
        let image = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(waiting)/image.jpg")
        #expect(image.body == fresh, "the fresh frame was stored, not the old one")

        // Nothing fresh comes: no_fresh_frame, and no image.
        _ = try await LiveSocketTests.waitForState(events) {
            $0["id"] as? String == "door" && $0["phase"] as? String == "stale"
        }
        let starved = try #require(try Self.post(server.port, "/api/v1/cameras/door/captures").json()["id"] as? String)
        let failed = try await Self.finished(events, starved)
        #expect(failed["status"] as? String == "failed")
        #expect((failed["error"] as? String)?.contains("no_fresh_frame") == true, "\(failed)")
        #expect(
            try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(starved)/image.jpg").status == 404)

        // A stopped camera refuses with 409; an unknown capture is 404.
        _ = try Self.post(server.port, "/api/v1/cameras/off/stop")
        let refused = try Self.post(server.port, "/api/v1/cameras/off/captures")
        #expect(refused.status == 409)
        #expect(try refused.json()["error"] as? String == "camera_stopped")
        #expect(try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/nope-1").status == 404)
        let list = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures?camera=door").jsonArray()
        #expect(list.map { $0["id"] as? String } == [starved, waiting], "newest first")
        await events.close()
    }

    @Test func aServerKilledDuringACaptureLeavesNoHalfWrittenFileReferenced() async throws {
        let setup = try Setup()
        defer {
            for pid in ProcFS.pids(inFile: setup.dir.file("partial.pids")) { kill(pid, SIGKILL) }
            setup.dir.remove()
        }
        let dataDir = setup.dir.file("data")
        let cameraConfig = config(
            setup, booth: "{command: [/bin/sh, \(setup.partialScript), \"{output}\"], pause_live: true}")
        var server = try VigilProcess(config: cameraConfig, dir: setup.dir, dataDir: dataDir)
        try await waitUntil("booth live") {
            try HTTPTestClient.camera(port: server.port, "booth")["phase"] as? String == "live"
        }
        let id = try #require(try Self.post(server.port, "/api/v1/cameras/booth/captures").json()["id"] as? String)
        try await waitUntil("half the image written") {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dataDir + "/captures")) ?? []
            return names.contains { $0.hasPrefix(".partial-") }
        }
        kill(server.pid, SIGKILL)
        server.process.waitUntilExit()
        for pid in ProcFS.pids(inFile: setup.dir.file("partial.pids")) { kill(pid, SIGKILL) }

        server = try VigilProcess(config: cameraConfig, dir: setup.dir, dataDir: dataDir)
        defer { server.stop() }
        let record = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(id)").json()
        #expect(record["status"] as? String == "failed")
        #expect((record["error"] as? String)?.contains("interrupted") == true)
        #expect(try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(id)/image.jpg").status == 404)
        let names = try FileManager.default.contentsOfDirectory(atPath: dataDir + "/captures")
        #expect(names.isEmpty, "no partial file left: \(names)")
        try await waitUntil("booth live after the restart") {
            try HTTPTestClient.camera(port: server.port, "booth")["phase"] as? String == "live"
        }
    }

    @Test func vigilCaptureWaitsForTheStillAndDownloadsIt() async throws {
        let setup = try Setup()
        defer { setup.dir.remove() }
        let extra = """
              bad:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
                capture: {command: [/bin/sh, \(setup.failScript), "{output}"]}
            """
        let server = try VigilProcess(
            config: config(
                setup, booth: "{command: [/bin/sh, \(setup.okScript), \"{output}\", \"0.2\"], pause_live: true}",
                extra: extra),
            dir: setup.dir)
        defer { server.stop() }
        func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try Binaries.run(["capture", "http://127.0.0.1:\(server.port)"] + arguments)
        }
        let path = setup.dir.file("got.jpg")
        let ok = try run(["booth", "--out", path])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("saved \(path)"))
        #expect(FileManager.default.contents(atPath: path) == Data(setup.fixture))
        let failing = try run(["bad", "--out", setup.dir.file("never.jpg")])
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("camera busy: PTP error 2019"), "\(failing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: setup.dir.file("never.jpg")))
        let unknown = try run(["nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown_camera"), "\(unknown.stderr)")
    }
}
