import Foundation
import NIOCore
import Testing
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// The WebSocket endpoints against a real `vigil serve`: `/cameras/{id}/live`,
/// `/api/v1/live` and `/api/v1/events`.
@Suite(.serialized) struct LiveSocketTests {
    static let config = """
        cameras:
          alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
          beta: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
          door: {source: {kind: push}, stale_after: 2s, max_frame_age: 5s, max_frame_bytes: 2000000}
        """

    static func jpegSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        var parser = JPEGFrameParser()
        var frames: [ParsedJPEG] = []
        bytes.withUnsafeBytes { parser.feed($0) { frames.append($0) } }
        guard frames.count == 1, frames[0].buffer.readableBytes == bytes.count else { return nil }
        return (frames[0].width, frames[0].height)
    }

    static func post(_ port: Int, _ path: String) throws -> [String: Any] {
        let response = try HTTPTestClient.request(port: port, "POST", path)
        guard response.status == 200 else { throw HTTPTestError(description: "\(path): \(response.status)") }
        return try response.json()
    }

    /// Reads `state` events until `done` holds for the camera state of one.
    static func waitForState(
        _ client: WSTestClient, timeout: Duration = .seconds(15), _ done: ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let event = try await client.nextJSON(type: "state", timeout: deadline - ContinuousClock.now)
            if let camera = event["camera"] as? [String: Any], done(camera) { return event }
        }
    }

    @Test func helloComesFirstAndVersionsIncreaseWithoutGaps() async throws {
        try await withServer(config: Self.config) { server, _ in
            let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
            let hello = try await events.nextJSON()
            #expect(hello["type"] as? String == "hello")
            #expect((hello["server_id"] as? String)?.isEmpty == false)
            #expect((hello["started_at"] as? String)?.contains("T") == true)
            let helloVersion = try #require(hello["version"] as? Int)
            let cameras = try #require(hello["cameras"] as? [[String: Any]])
            #expect(cameras.map { $0["id"] as? String } == ["alpha", "beta", "door"])
            for camera in cameras {
                #expect((camera["version"] as? Int ?? .max) <= helloVersion)
                #expect(camera["phase"] != nil && camera["desired"] != nil)
            }

            // Changes on two cameras at once, from two threads.
            let port = server.port
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ["alpha", "beta"] {
                    group.addTask {
                        for _ in 0..<5 {
                            _ = try Self.post(port, "/api/v1/cameras/\(id)/stop")
                            _ = try Self.post(port, "/api/v1/cameras/\(id)/start")
                        }
                    }
                }
                try await group.waitForAll()
            }
            var last = helloVersion
            var latest: [String: [String: Any]] = [:]
            while latest["alpha"]?["phase"] as? String != "live" || latest["beta"]?["phase"] as? String != "live" {
                let event = try await events.nextJSON()
                let version = try #require(event["version"] as? Int)
                if event["type"] as? String == "ping" {
                    #expect(version <= last)
                    continue
                }
                #expect(version == last + 1, "every event arrives, in order: \(version) after \(last)")
                last = version
                if event["type"] as? String == "state", let camera = event["camera"] as? [String: Any] {
                    #expect(camera["version"] as? Int == version)
                    latest[camera["id"] as? String ?? ""] = camera
                }
            }
            #expect(last - helloVersion >= 20, "5 stops and 5 starts on each camera: \(last - helloVersion) events")
            for id in ["alpha", "beta"] {
                let rest = try HTTPTestClient.camera(port: server.port, id)
                #expect(rest["desired"] as? String == "running")
                #expect(rest["phase"] as? String == latest[id]?["phase"] as? String)
                #expect((rest["version"] as? Int ?? 0) >= (latest[id]?["version"] as? Int ?? .max))
            }
            await events.close()
        }
    }

    @Test func aReconnectingClientSeesTheStateTheAPIReports() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let dataDir = dir.file("data")
        var server = try VigilProcess(config: Self.config, dir: dir, dataDir: dataDir)
        let first = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        let firstHello = try await first.nextJSON()
        _ = try Self.post(server.port, "/api/v1/cameras/beta/stop")
        _ = try await Self.waitForState(first) { $0["id"] as? String == "beta" && $0["phase"] as? String == "stopped" }
        await first.close()

        let second = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        let hello = try await second.nextJSON()
        #expect(hello["server_id"] as? String == firstHello["server_id"] as? String, "same server, same id")
        let beta = try #require((hello["cameras"] as? [[String: Any]])?.first { $0["id"] as? String == "beta" })
        let rest = try HTTPTestClient.camera(port: server.port, "beta")
        #expect(beta["desired"] as? String == "stopped" && beta["phase"] as? String == "stopped")
        #expect(rest["desired"] as? String == "stopped" && rest["phase"] as? String == "stopped")
        #expect((rest["version"] as? Int ?? 0) >= (beta["version"] as? Int ?? .max))
        await second.close()

        // A restarted server: a new server_id, and the stop persisted.
        server.stop()
        server = try VigilProcess(config: Self.config, dir: dir, dataDir: dataDir)
        defer { server.stop() }
        let third = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        let restarted = try await third.nextJSON()
        #expect(restarted["type"] as? String == "hello")
        #expect(restarted["server_id"] as? String != firstHello["server_id"] as? String)
        let betaAfter = try #require(
            (restarted["cameras"] as? [[String: Any]])?.first { $0["id"] as? String == "beta" })
        #expect(betaAfter["desired"] as? String == "stopped")
        #expect(try HTTPTestClient.camera(port: server.port, "beta")["desired"] as? String == "stopped")
        await third.close()
    }

    @Test func cameraLiveSocketSendsStateAndFramesAndStaysOpenAcrossStopAndStart() async throws {
        try await withServer(config: Self.config) { server, _ in
            let live = try await WSTestClient.connect(port: server.port, path: "/cameras/alpha/live")
            let state = try await live.nextJSON()
            #expect(state["type"] as? String == "state")
            #expect((state["camera"] as? [String: Any])?["id"] as? String == "alpha")
            var previous: [UInt8] = []
            for _ in 0..<5 {
                let jpeg = try await live.nextBinary()
                #expect(Self.jpegSize(jpeg)?.width == 160, "each binary message is one complete JPEG")
                #expect(jpeg != previous, "frames change")
                previous = jpeg
            }
            _ = try Self.post(server.port, "/api/v1/cameras/alpha/stop")
            _ = try await Self.waitForState(live) { $0["phase"] as? String == "stopped" }
            _ = try Self.post(server.port, "/api/v1/cameras/alpha/start")
            _ = try await Self.waitForState(live) { $0["phase"] as? String == "live" }
            let resumed = try await live.nextBinary()
            #expect(Self.jpegSize(resumed) != nil, "frames resume on the same socket")
            await live.close()
        }
    }

    @Test func multiCameraSocketTagsEveryFrameWithItsCamera() async throws {
        try await withServer(config: Self.config) { server, _ in
            let live = try await WSTestClient.connect(port: server.port, path: "/api/v1/live?cameras=alpha,beta")
            var states: Set<String> = []
            var frames: [String: Int] = [:]
            while frames["alpha", default: 0] < 3 || frames["beta", default: 0] < 3 {
                switch try await live.next() {
                case .text(let text):
                    let event = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                    if let id = (event?["camera"] as? [String: Any])?["id"] as? String { states.insert(id) }
                case .binary(let buffer):
                    let bytes = Array(buffer.readableBytesView)
                    let length = Int(bytes[0])
                    let camera = String(decoding: bytes[1..<(1 + length)], as: UTF8.self)
                    #expect(["alpha", "beta"].contains(camera))
                    #expect(Self.jpegSize(Array(bytes[(1 + length)...]))?.height == 120)
                    frames[camera, default: 0] += 1
                }
            }
            #expect(states == ["alpha", "beta"], "the state of each camera comes first")
            await live.close()

            let wrong = try await WSTestClient.connect(port: server.port, path: "/api/v1/live?cameras=alpha,nope")
            let error = try await wrong.nextJSON()
            #expect(error["type"] as? String == "error" && error["code"] as? String == "unknown_camera")
            let close = try await wrong.closed()
            #expect(close?.closeCode == .policyViolation)
            #expect(close?.reason?.contains("nope") == true)

            let plain = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/live")
            #expect(plain.status == 426)
            #expect(try plain.json()["error"] as? String == "websocket_required")
        }
    }

    @Test func garbageOnAnySocketGetsAnErrorAndEveryoneElseIsStillServed() async throws {
        try await withServer(config: Self.config) { server, _ in
            let watcher = try await WSTestClient.connect(port: server.port, path: "/cameras/beta/live")
            _ = try await watcher.nextBinary()
            for path in ["/cameras/alpha/live", "/api/v1/live?cameras=alpha", "/api/v1/events"] {
                let client = try await WSTestClient.connect(port: server.port, path: path)
                try await client.send(text: "this is not json")
                #expect(try await client.nextJSON(type: "error")["code"] as? String == "bad_json", "\(path)")
                try await client.send(binary: [0xFF, 0xD8, 0x00, 0x01])
                #expect(try await client.nextJSON(type: "error")["code"] as? String == "unexpected_binary", "\(path)")
                try await client.send(text: #"{"type":"dance"}"#)
                #expect(try await client.nextJSON(type: "error")["code"] as? String == "unknown_type", "\(path)")
                try await client.send(text: #"{"type":"ping"}"#)
                _ = try await client.nextJSON(type: "pong")
                for index in 0..<LiveSocketTestLimits.maxBadMessages {
                    try await client.send(text: "garbage \(index)")
                }
                let close = try await client.closed()
                #expect(close?.closeCode == .policyViolation, "\(path)")
                #expect(
                    close?.reason?.contains("too many bad messages") == true, "\(path): \(String(describing: close))")

                // A message over the limit, in fragments.
                let raw = try RawWebSocket(port: server.port, path: path)
                let half = [UInt8](repeating: 0x61, count: 10_000)
                try raw.send(opcode: 0x1, half, fin: false)
                try raw.send(opcode: 0x0, half, fin: true)
                var frame = try raw.readMessage()
                while frame.opcode != 0x8 { frame = try raw.readMessage() }
                #expect(frame.close?.code == 1009, "\(path): \(frame.close.map { "\($0)" } ?? "no close")")
            }
            let garbageBytes = try RawWebSocket(port: server.port, path: "/api/v1/events")
            try garbageBytes.connection.send(bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7919) })
            // The watcher was served throughout, and still is.
            _ = try await watcher.nextBinary()
            let fresh = try await WSTestClient.connect(port: server.port, path: "/cameras/beta/live")
            _ = try await fresh.nextBinary()
            #expect(try HTTPTestClient.request(port: server.port, "GET", "/healthz").text == "ok")
            await fresh.close()
            await watcher.close()
        }
    }

    @Test func aSlowEventsSocketDoesNotHoldUpOthersAndIsClosedWhenTooFarBehind() async throws {
        try await withServer(config: Self.config) { server, _ in
            let stalled = try RawWebSocket(port: server.port, path: "/api/v1/events", receiveBuffer: 4096, timeout: 30)
            let healthy = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
            var last = try #require(try await healthy.nextJSON()["version"] as? Int)
            let port = server.port
            let cycles = 500
            let reader = Task { () -> Int in
                // Counts beta's running -> stopped transitions: one per cycle.
                var stops = 0
                var betaDesired = "running"
                var received = 0
                while stops < cycles {
                    let event = try await healthy.nextJSON(timeout: .seconds(30))
                    guard event["type"] as? String == "state", let version = event["version"] as? Int else { continue }
                    #expect(version == last + 1, "no event skipped or reordered")
                    last = version
                    received += 1
                    guard let camera = event["camera"] as? [String: Any], camera["id"] as? String == "beta",
                        let desired = camera["desired"] as? String
                    else { continue }
                    if desired == "stopped", betaDesired == "running" { stops += 1 }
                    betaDesired = desired
                }
                return received
            }
            for _ in 0..<cycles {
                _ = try Self.post(port, "/api/v1/cameras/beta/stop")
                _ = try Self.post(port, "/api/v1/cameras/beta/start")
            }
            let received = try await reader.value
            #expect(received >= 2 * cycles, "the healthy socket got every event: \(received)")

            // The stalled socket was closed for being too far behind.
            var close: (code: Int, reason: String)?
            while close == nil {
                let frame = try stalled.readMessage()
                close = frame.close
            }
            #expect(close?.code == 1008)
            #expect(close?.reason.contains("too slow") == true, "\(close?.reason ?? "")")
        }
    }

    @Test func aSlowLiveSocketSkipsToTheNewestFrame() async throws {
        try await withServer(config: Self.config) { server, _ in
            let renderer = try TestPatternRenderer(label: "slow", width: 320, height: 240, quality: 90)
            let pushed = try (0..<90).map { FaultyMJPEGUpstream.bytes(try renderer.render(index: $0, noise: 10)) }
            let slow = try RawWebSocket(port: server.port, path: "/cameras/door/live", receiveBuffer: 4096)
            #expect(try slow.readMessage().text.contains(#""type":"state""#))
            // The viewer reads nothing while 90 frames are pushed.
            for frame in pushed {
                let response = try HTTPTestClient.request(
                    port: server.port, "POST", "/api/v1/cameras/door/frames", body: frame)
                #expect(response.status == 200)
            }
            var received = 0
            var last: [UInt8] = []
            while last != pushed.last {
                let message = try slow.readMessage()
                guard message.opcode == 0x2 else { continue }
                #expect(pushed.contains(message.payload), "every binary message is a pushed frame, whole")
                received += 1
                last = message.payload
            }
            #expect(
                received < pushed.count / 2,
                "old frames were dropped, not queued: \(received) of \(pushed.count) delivered"
            )
        }
    }

    @Test func theEventsSocketSendsAHeartbeatEvery15Seconds() async throws {
        try await withServer(config: Self.config) { server, _ in
            let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
            let hello = try await events.nextJSON()
            let started = ContinuousClock.now
            let ping = try await events.nextJSON(type: "ping", timeout: .seconds(25))
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(13), "the first ping comes after about 15 s: \(waited)")
            #expect((ping["version"] as? Int ?? 0) >= (hello["version"] as? Int ?? .max))
            await events.close()
        }
    }

    @Test func shutdownClosesEverySocketWithGoingAway() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(config: Self.config, dir: dir)
        let live = try await WSTestClient.connect(port: server.port, path: "/cameras/alpha/live")
        let events = try await WSTestClient.connect(port: server.port, path: "/api/v1/events")
        _ = try await live.nextBinary()
        _ = try await events.nextJSON()
        let seconds = server.stop()
        #expect(seconds < 5, "shutdown took \(seconds) s")
        let liveClose = try await live.closed()
        #expect(liveClose?.closeCode == .goingAway, "\(String(describing: liveClose))")
        let eventsClose = try await events.closed()
        #expect(eventsClose?.closeCode == .goingAway, "\(String(describing: eventsClose))")
    }
}

enum LiveSocketTestLimits {
    /// The server closes a socket after this many bad messages.
    static let maxBadMessages = 20
}
