import Foundation
import Testing
import VigilAPI
import VigilCore
import VigilSources

/// `kind: socketio` against a real python-socketio server: binary and base64
/// frames, a refused namespace, and a frozen server replaced by a brand-new
/// session.
@Suite(.serialized) struct SocketIOSourceTests {
    func camera(
        _ upstream: SocketIOUpstream, _ configure: (inout SocketIOConfig) -> Void = { _ in }, states: StateRecorder
    )
        -> Camera
    {
        var config = SocketIOConfig(url: upstream.url)
        config.namespace = "/cam"
        configure(&config)
        return makeTestCamera(
            .socketIO(config), id: "sio", staleAfter: .seconds(2), initialBackoff: .milliseconds(100),
            maxBackoff: .milliseconds(500), states: states)
    }

    @Test func binaryEventsAreFrames() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--fps", "20"])
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(upstream, states: states)
        let mailbox = await startWatching(camera)
        let frame = try await frames(mailbox, 5)
        #expect(frame.width == 160 && frame.height == 120)
        #expect(await camera.state().restarts == 0)
        #expect(upstream.sessions == 1)
        await camera.shutdown()
    }

    @Test func base64FramesAtAJSONPath() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--payload", "data.image", "--event", "snap"])
        defer { upstream.stop() }
        let camera = camera(
            upstream,
            {
                $0.event = "snap"; $0.payload = .base64(path: ["data", "image"])
            }, states: StateRecorder())
        let mailbox = await startWatching(camera)
        #expect(try await frames(mailbox, 3).width == 160)
        await camera.shutdown()
    }

    @Test func aRefusedNamespaceIsSaidAndRetried() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--token", "right"])
        defer { upstream.stop() }
        let states = StateRecorder()
        let refused = camera(upstream, { $0.auth = #"{"token": "wrong"}"# }, states: states)
        await refused.activate()
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 2 }
        let error = await refused.state().lastError ?? ""
        #expect(error.contains("namespace /cam refused: bad token"), "\(error)")
        await refused.shutdown()

        let allowed = camera(upstream, { $0.auth = #"{"token": "right"}"# }, states: StateRecorder())
        let mailbox = await startWatching(allowed)
        _ = try await frames(mailbox, 2)
        await allowed.shutdown()
    }

    @Test func aFrozenServerIsStaleAndABrandNewSessionFollows() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--ping-interval", "1", "--ping-timeout", "1"])
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(upstream, states: states)
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 2)
        upstream.pause()
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 1 }
        let error = await camera.state().lastError ?? ""
        #expect(error.contains("stale") || error.contains("heartbeat"), "\(error)")
        upstream.resume()
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(20)) { $0.seq > latest }
        try await waitUntil("a second session") { upstream.sessions >= 2 }
        await camera.shutdown()
    }
}

/// The failures of the original Socket.IO consumer, injected for real: a
/// zombie that keeps its heartbeat but sends nothing, a server that stops
/// its heartbeat, a restarted server, malformed traffic, and many resets.
@Suite(.serialized) struct SocketIOFaultTests {
    func camera(
        url: String, maxFrameBytes: Int = 1 << 20, states: StateRecorder,
        _ configure: (inout SocketIOConfig) -> Void = { _ in }
    ) -> Camera {
        var config = SocketIOConfig(url: url)
        config.namespace = "/cam"
        configure(&config)
        return makeTestCamera(
            .socketIO(config), id: "sio", staleAfter: .seconds(2), maxFrameBytes: maxFrameBytes,
            initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500), states: states)
    }

    @Test func aZombieThatKeepsItsHeartbeatIsANewSessionWithinStaleAfter() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--fps", "20"])
        defer { upstream.stop() }
        let camera = camera(url: upstream.url, states: StateRecorder())
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 3)
        let mutedAt = try await upstream.command("mute")
        try await waitUntil("a second session") { upstream.sessions >= 2 }
        let replacedAfter = try #require(upstream.connectedAt(1)) - mutedAt
        // stale_after (2 s) + 1 s, on the server's own clock.
        #expect(replacedAfter <= 3.0, "a new session \(replacedAfter) s after the frames stopped")
        let error = await camera.state().lastError ?? ""
        #expect(error.hasPrefix("stale: no frame for"), "\(error)")
        // The new session gets frames while the old one would still be silent.
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(20)) { $0.seq > latest }
        await camera.shutdown()
    }

    @Test func aServerThatStopsItsHeartbeatIsReplaced() async throws {
        // python-engineio announces whole seconds only.
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--ping-interval", "1", "--ping-timeout", "1"])
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(url: upstream.url, states: states)
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 2)
        try await upstream.command("no-ping")
        // Frames keep coming: only the missing heartbeat ends the session.
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 1 }
        let error = await camera.state().lastError ?? ""
        #expect(error.contains("no heartbeat from the server for 2"), "\(error)")
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(20)) { $0.seq > latest }
        #expect(upstream.sessions >= 2)
        await camera.shutdown()
    }

    @Test func aRestartedServerIsFoundAgain() async throws {
        let first = try SocketIOUpstream(["--namespace", "/cam"])
        let states = StateRecorder()
        let camera = camera(url: first.url, states: states)
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 2)
        first.stop()
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 2 }
        let second = try SocketIOUpstream(["--namespace", "/cam", "--port", String(first.port)])
        defer { second.stop() }
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(20)) { $0.seq > latest }
        try await states.wait(timeout: .seconds(20)) { $0.phase == .live }
        await camera.shutdown()
    }

    @Test func malformedTrafficIsSkippedAndNeverMakesAFrame() async throws {
        let maxFrameBytes = 64 * 1024
        let upstream = try SocketIOUpstream.faulty(script: "junk,good", maxFrameBytes: maxFrameBytes)
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(url: upstream.url, maxFrameBytes: maxFrameBytes, states: states)
        let mailbox = await startWatching(camera)
        // The junk session: every frame shown is one of the good ones, whole.
        var shown = 0
        while upstream.sessions < 2 {
            let frame = try await nextRealFrame(mailbox, timeout: .seconds(20)) { _ in true }
            let bytes = Data(frame.jpeg.readableBytesView)
            #expect(bytes != SocketIOUpstream.poison, "a frame made from parts of two events")
            #expect(upstream.frames.contains(bytes), "a frame that is not one the server sent whole")
            shown += 1
        }
        #expect(shown >= 5)
        // The junk session ended (the server closed it) and said what it skipped.
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 1 }
        let error = await camera.state().lastError ?? ""
        #expect(error.contains("messages were not frames; the last:"), "\(error)")
        let count = Int(error.components(separatedBy: "connection ended (").last?.prefix { $0.isNumber } ?? "") ?? 0
        #expect(count >= 8, "\(error)")
        // The next session is good.
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(20)) { $0.seq > latest }
        await camera.shutdown()
    }

    @Test func attachmentsThatNeverComeEndTheSession() async throws {
        let upstream = try SocketIOUpstream.faulty(script: "no-attachments,good", maxFrameBytes: 1 << 20)
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(url: upstream.url, states: states)
        let mailbox = await startWatching(camera)
        try await states.wait(timeout: .seconds(20)) { $0.restarts >= 1 }
        let error = await camera.state().lastError ?? ""
        #expect(error.contains("announced 1 attachment(s); 0 came in"), "\(error)")
        _ = try await frames(mailbox, 2)
        await camera.shutdown()
    }

    @Test func aHundredResetsLeaveNothingBehind() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--fps", "20"])
        defer { upstream.stop() }
        let dir = try TempDir()
        let server = try VigilProcess(
            config: """
                cameras:
                  sio:
                    stale_after: 5s
                    restart: {initial_backoff: 20ms, max_backoff: 100ms}
                    source: {kind: socketio, url: "\(upstream.url)", namespace: /cam}
                """, dir: dir)
        defer { server.stop() }
        func cycle(_ count: Int) async throws {
            for _ in 0..<count {
                let sessions = upstream.sessions
                try await upstream.command("kick")
                try await waitUntil("a new session after a kick") { upstream.sessions > sessions }
            }
        }
        /// Descriptors and RssAnon once the last session is streaming and
        /// the ended ones' timers (close timeout: 1 s) have run out.
        func settled() async throws -> (descriptors: Int, memory: Int) {
            try await Task.sleep(for: .seconds(3))
            return (ProcFS.openFileDescriptors(pid: server.pid), try #require(ProcFS.rssAnon(pid: server.pid)))
        }
        try await waitUntil("the first session") { upstream.sessions >= 1 }
        try await cycle(20)
        let before = try await settled()
        try await cycle(100)
        let after = try await settled()
        print(
            "100 Socket.IO resets: fds \(before.descriptors) -> \(after.descriptors), RssAnon \(before.memory / 1024) KiB -> \(after.memory / 1024) KiB"
        )
        #expect(after.descriptors <= before.descriptors)
        #expect(after.memory - before.memory < 1536 * 1024, "RssAnon grew \((after.memory - before.memory) / 1024) KiB")
        try await waitUntil("the camera live again") {
            try HTTPTestClient.camera(port: server.port, "sio")["phase"] as? String == "live"
        }
    }
}
