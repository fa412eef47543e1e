import Foundation
import Testing
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

/// A real `vigil serve` process, real sockets on 127.0.0.1, real child processes.
@Suite(.serialized) struct ServerEndToEndTests {
    /// Checks that `bytes` is one complete JPEG and returns its size.
    func jpegSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        var parser = JPEGFrameParser()
        var frames: [ParsedJPEG] = []
        bytes.withUnsafeBytes { parser.feed($0) { frames.append($0) } }
        guard frames.count == 1, frames[0].buffer.readableBytes == bytes.count else { return nil }
        return (frames[0].width, frames[0].height)
    }

    @Test func defaultServerStreamsTheTestPatternAsValidMJPEG() async throws {
        try await withServer(config: nil) { server, _ in
            #expect(try HTTPTestClient.request(port: server.port, "GET", "/healthz").text == "ok")
            try await waitUntil("demo live") {
                try HTTPTestClient.camera(port: server.port, "demo")["phase"] as? String == "live"
            }
            let stream = try MJPEGTestStream(port: server.port, path: "/cameras/demo/stream.mjpg")
            #expect(stream.status == 200)
            var previous: [UInt8] = []
            for _ in 0..<10 {
                let part = try stream.nextPart()
                #expect(part.headers["content-type"] == "image/jpeg")
                let size = jpegSize(part.jpeg)
                #expect(size?.width == 1280 && size?.height == 720)
                #expect(part.boundaryFollowedAtOnce, "the next boundary must be sent right after the frame")
                #expect(part.jpeg != previous, "the test pattern changes from frame to frame")
                previous = part.jpeg
            }
            let page = try HTTPTestClient.request(port: server.port, "GET", "/")
            #expect(page.status == 200 && page.text.contains("<title>Vigil</title>"))
        }
    }

    @Test func apiStatesAndErrorsAreJSON() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            server: {max_clients_per_camera: 2}
            cameras:
              cam:
                source: {kind: testpattern, width: 320, height: 240, fps: 10}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        let list = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras")
        #expect(list.status == 200)
        let cameras = try list.jsonArray()
        #expect(cameras.map { $0["id"] as? String } == ["cam"])
        for key in [
            "id", "desired", "phase", "since", "version", "fps", "clients", "restarts",
        ] {
            #expect(cameras[0][key] != nil, "state has \(key)")
        }
        let unknown = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras/nope")
        #expect(unknown.status == 404)
        #expect(try unknown.json()["error"] as? String == "unknown_camera")
        let badID = try HTTPTestClient.request(port: server.port, "GET", "/cameras/..%2Fetc/snapshot.jpg")
        #expect(badID.status == 404)
        let noRoute = try HTTPTestClient.request(port: server.port, "GET", "/nothing/here")
        #expect(noRoute.status == 404)
        #expect(try noRoute.json()["error"] as? String == "not_found")
        let badFPS = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/stream.mjpg?fps=abc")
        #expect(badFPS.status == 400)
        #expect(try badFPS.json()["error"] as? String == "bad_parameter")
        let badAge = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/snapshot.jpg?max_age_ms=-5")
        #expect(badAge.status == 400)

        try await waitUntil("cam live") {
            try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String == "live"
        }
        let first = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        let second = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        _ = try first.nextPart()
        _ = try second.nextPart()
        #expect(try HTTPTestClient.camera(port: server.port, "cam")["clients"] as? Int == 2)
        let third = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/stream.mjpg")
        #expect(third.status == 503)
        #expect(try third.json()["error"] as? String == "too_many_clients")
        // Viewers that leave are noticed and their places freed.
        first.connection.close()
        second.connection.close()
        try await waitUntil("viewers gone") {
            try HTTPTestClient.camera(port: server.port, "cam")["clients"] as? Int == 0
        }
    }

    @Test func fpsParameterCapsOneClientsRate() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            cameras:
              cam:
                source: {kind: testpattern, width: 160, height: 120, fps: 30}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        try await waitUntil("cam live") {
            try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String == "live"
        }
        let stream = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg?fps=4")
        var stamps: [Double] = []
        for _ in 0..<6 {
            let part = try stream.nextPart()
            if let stamp = part.timestamp { stamps.append(stamp) }
        }
        // Frames are stamped when captured: at 4 fps their capture times are
        // at least ~250 ms apart although the camera makes one every 33 ms.
        let gaps = zip(stamps.dropFirst(2), stamps.dropFirst(1)).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= 0.2 }, "\(gaps)")
    }

    @Test func slowClientGetsNewFramesAndDoesNotGrowServerMemory() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            cameras:
              cam:
                source: {kind: testpattern, width: 640, height: 360, fps: 25, quality: 90}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        try await waitUntil("cam live") {
            try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String == "live"
        }
        let fast = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        let slow = try MJPEGTestStream(
            port: server.port, path: "/cameras/cam/stream.mjpg", receiveBuffer: 16 * 1024)
        _ = try slow.nextPart()
        let rssBefore = ProcFS.rss(pid: server.pid) ?? 0
        // The slow client reads one frame per 10 frames the camera makes. A
        // server that queued frames would leave it further behind with every
        // read (0.36 s more each time); newest-wins keeps the lag at the depth
        // of the socket buffers.
        var lags: [Double] = []
        for _ in 0..<26 {
            for _ in 0..<10 { _ = try fast.nextPart() }
            let part = try slow.nextPart()
            if let stamp = part.timestamp { lags.append(Date().timeIntervalSince1970 - stamp) }
        }
        let rssAfter = ProcFS.rss(pid: server.pid) ?? 0
        let middle = lags[10..<18].max() ?? 0
        let late = lags[18...].max() ?? 0
        #expect(late < 3.5, "slow client lags \(late) s behind: \(lags)")
        #expect(late < middle + 0.5, "lag grows: \(lags)")
        #expect(rssAfter - rssBefore < 8 * 1024 * 1024, "RSS grew from \(rssBefore) to \(rssAfter)")
        let fastPart = try fast.nextPart()
        #expect(Date().timeIntervalSince1970 - (fastPart.timestamp ?? 0) < 1.0, "the fast client is unaffected")
    }

    @Test func snapshotIs503WhileStaleAnd200AfterRecovery() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let command = Binaries.fakeCameraCommand([
            "--fps", "20", "--size", "160x120", "--stall-after", "30", "--pid-file", pidFile,
        ])
        let config = """
            cameras:
              cam:
                source: {kind: exec, command: \(command)}
                stale_after: 1500ms
                max_frame_age: 300ms
                restart: {initial_backoff: 2s, max_backoff: 2s}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        try await waitUntil("cam live") {
            try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String == "live"
        }
        let fresh = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/snapshot.jpg")
        #expect(fresh.status == 200 && fresh.headers["content-type"] == "image/jpeg")
        #expect(jpegSize(fresh.body)?.width == 160)

        // The fake camera stalls after 30 frames.
        try await waitUntil("cam stale") {
            let phase = try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String
            return phase == "stale" || phase == "recovering"
        }
        let stale = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/snapshot.jpg")
        #expect(stale.status == 503)
        #expect(try stale.json()["error"] as? String == "stale")
        let stream = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        let card = try stream.nextPart()
        #expect(jpegSize(card.jpeg) != nil, "a placeholder card while not live")

        try await waitUntil("cam live again") {
            let state = try HTTPTestClient.camera(port: server.port, "cam")
            return state["phase"] as? String == "live" && (state["restarts"] as? Int ?? 0) >= 1
        }
        let recovered = try HTTPTestClient.request(port: server.port, "GET", "/cameras/cam/snapshot.jpg")
        #expect(recovered.status == 200)
        let state = try HTTPTestClient.camera(port: server.port, "cam")
        #expect((state["last_error"] as? String)?.contains("stale") == true)
        #expect(ProcFS.pids(inFile: pidFile).count >= 2)
    }

    @Test func startAndStopAreIdempotentAndSurviveARestart() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            cameras:
              a:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
              b:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
            """
        var server = try VigilProcess(config: config, dir: dir)
        for _ in 0..<2 {
            let stopped = try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/a/stop")
            #expect(stopped.status == 200)
            #expect(try stopped.json()["desired"] as? String == "stopped")
            #expect(try stopped.json()["phase"] as? String == "stopped")
        }
        let stream = try MJPEGTestStream(port: server.port, path: "/cameras/a/stream.mjpg")
        let card = try stream.nextPart()
        #expect(jpegSize(card.jpeg) != nil, "a stopped camera's viewers get the placeholder")
        #expect(server.stop() < 10)

        server = try VigilProcess(config: config, dir: dir, dataDir: server.dataDir)
        var a = try HTTPTestClient.camera(port: server.port, "a")
        #expect(a["desired"] as? String == "stopped" && a["phase"] as? String == "stopped")
        try await waitUntil("b live") {
            try HTTPTestClient.camera(port: server.port, "b")["phase"] as? String == "live"
        }
        for _ in 0..<2 {
            let started = try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/a/start")
            #expect(started.status == 200)
            #expect(try started.json()["desired"] as? String == "running")
        }
        try await waitUntil("a live") {
            try HTTPTestClient.camera(port: server.port, "a")["phase"] as? String == "live"
        }
        server.stop()

        server = try VigilProcess(config: config, dir: dir, dataDir: server.dataDir)
        defer { server.stop() }
        a = try HTTPTestClient.camera(port: server.port, "a")
        #expect(a["desired"] as? String == "running")
        try await waitUntil("a live after restart") {
            try HTTPTestClient.camera(port: server.port, "a")["phase"] as? String == "live"
        }
    }

    @Test func shutdownEndsStreamsAndLeavesNoChildProcess() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let command = Binaries.fakeCameraCommand(["--fps", "15", "--size", "160x120", "--pid-file", pidFile])
        let config = """
            cameras:
              cam:
                source: {kind: exec, command: \(command)}
            """
        let server = try VigilProcess(config: config, dir: dir)
        try await waitUntil("cam live") {
            try HTTPTestClient.camera(port: server.port, "cam")["phase"] as? String == "live"
        }
        let stream = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        _ = try stream.nextPart()
        let children = ProcFS.children(of: server.pid)
        let cameraPIDs = ProcFS.pids(inFile: pidFile)
        #expect(cameraPIDs.count == 1 && children.contains(cameraPIDs[0]))
        let took = server.stop()
        #expect(took < 5, "shutdown took \(took) s")
        #expect(server.process.terminationStatus == 0, "clean exit:\n\(server.output)")
        #expect(!ProcFS.exists(pid: cameraPIDs[0]), "the camera process is gone (killed and reaped)")
        // The open stream was ended by the server.
        #expect(throws: (any Error).self) {
            for _ in 0..<100 { _ = try stream.nextPart() }
        }
    }

    @Test func idleConnectionsAreClosedButStreamsStayOpen() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let config = """
            server: {idle_timeout: 1s}
            cameras:
              cam:
                source: {kind: testpattern, width: 160, height: 120, fps: 10}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        let stream = try MJPEGTestStream(port: server.port, path: "/cameras/cam/stream.mjpg")
        // A keep-alive connection that sends nothing is closed by the server.
        let idle = try HTTPConnection(port: server.port, timeout: 10)
        let start = ContinuousClock.now
        #expect(try idle.fill() == false, "the server closes the idle connection")
        #expect(ContinuousClock.now - start < .seconds(8))
        // So is one that starts a request and never finishes its header.
        let dribbling = try HTTPConnection(port: server.port, timeout: 10)
        try dribbling.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        #expect(try dribbling.fill() == false, "the server closes a connection whose request head never ends")
        // The stream, idle on its inbound side all along, still delivers.
        var frames = 0
        let until = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < until {
            _ = try stream.nextPart()
            frames += 1
        }
        #expect(frames >= 5)
    }

    @Test func checkConfigReportsEveryMistake() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.file("bad.yml")
        try """
        server: {port: http}
        cameras:
          porch:
            source: {kind: exec}
            stale: 5s
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.vigil)
        process.arguments = ["check-config", path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(output.contains("server.port: expected a whole number"))
        #expect(output.contains("cameras.porch.source.command: missing"))
        #expect(output.contains("cameras.porch.stale: unknown key"))
    }
}
