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
        let mailbox = FrameMailbox()
        camera.hub.subscribe(mailbox)
        await camera.activate()
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
        let mailbox = FrameMailbox()
        camera.hub.subscribe(mailbox)
        await camera.activate()
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
        let mailbox = FrameMailbox()
        allowed.hub.subscribe(mailbox)
        await allowed.activate()
        _ = try await frames(mailbox, 2)
        await allowed.shutdown()
    }

    @Test func aFrozenServerIsStaleAndABrandNewSessionFollows() async throws {
        let upstream = try SocketIOUpstream(["--namespace", "/cam", "--ping-interval", "1", "--ping-timeout", "1"])
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = camera(upstream, states: states)
        let mailbox = FrameMailbox()
        camera.hub.subscribe(mailbox)
        await camera.activate()
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
