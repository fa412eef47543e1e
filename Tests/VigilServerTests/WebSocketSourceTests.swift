import Foundation
import Logging
import Testing
import VigilCore
import VigilSources

/// The `websocket` source against a real WebSocket upstream on 127.0.0.1.
@Suite(.serialized) struct WebSocketSourceTests {
    func makeCamera(
        _ upstream: FaultyWebSocketUpstream, path: String = "/live", staleAfter: Duration = .seconds(1),
        maxFrameBytes: Int = 40_000, initialBackoff: Duration = .milliseconds(50),
        maxBackoff: Duration = .milliseconds(200), states: StateRecorder = StateRecorder()
    ) -> Camera {
        makeTestCamera(
            .websocket(WebSocketSourceConfig(url: "ws://127.0.0.1:\(upstream.port)\(path)")), id: "ws",
            staleAfter: staleAfter, maxFrameBytes: maxFrameBytes, initialBackoff: initialBackoff,
            maxBackoff: maxBackoff, states: states)
    }

    @Test func streamsFramesAndIgnoresTextMessages() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        let camera = makeCamera(upstream)
        let mailbox = await startWatching(camera)
        let frame = try await frames(mailbox, 5)
        #expect(frame.width == 160 && frame.height == 120)
        #expect(await camera.state().restarts == 0)
        await camera.shutdown()
        await upstream.stop()
    }

    @Test func closedConnectionIsReplacedByANewClient() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        upstream.script([.closeAfter(4)])
        let camera = makeCamera(upstream, staleAfter: .seconds(2))
        let mailbox = await startWatching(camera)
        let before = try await frames(mailbox, 4)
        let after = try await nextRealFrame(mailbox, timeout: .seconds(15)) { $0.seq > before.seq }
        #expect(after.capturedAt - before.capturedAt <= .seconds(2) + .seconds(2))
        #expect(upstream.accepted >= 2, "a new connection")
        #expect(await camera.state().lastError?.contains("upstream closed the WebSocket") == true)
        await camera.shutdown()
        await upstream.stop()
    }

    @Test func zombieThatStillAnswersPingsIsReplaced() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        upstream.script([.zombie(after: 20)])
        // Long enough for the client's pings (every 2 s) to be answered by the zombie.
        let camera = makeCamera(upstream, staleAfter: .seconds(5))
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 2)
        let descriptors = ProcFS.openFileDescriptors()
        let before = try await nextRealFrame(mailbox) { $0.seq >= 20 }
        let after = try await nextRealFrame(mailbox, timeout: .seconds(15)) { $0.seq > before.seq }
        #expect(after.capturedAt - before.capturedAt <= .seconds(5) + .seconds(2))
        #expect(upstream.accepted == 2)
        #expect(await camera.state().lastError?.hasPrefix("stale") == true)
        try await waitUntil("zombie connection closed") { upstream.openConnections == 1 }
        #expect(ProcFS.openFileDescriptors() <= descriptors, "no descriptor left behind")
        await camera.shutdown()
        await upstream.stop()
    }

    @Test func garbageAndTruncatedMessagesAreSkipped() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        upstream.behaviour = .damaged
        let camera = makeCamera(upstream, staleAfter: .seconds(5))
        let mailbox = await startWatching(camera)
        for _ in 0..<10 {
            let frame = try await nextRealFrame(mailbox) { _ in true }
            #expect(frame.width == 160)
        }
        #expect(await camera.state().restarts == 0)
        await camera.shutdown()
        await upstream.stop()
    }

    @Test func oversizeMessageEndsTheConnectionAndANewOneFollows() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        #expect(upstream.big.readableBytes > 40_000)
        upstream.behaviour = .oversize
        let states = StateRecorder()
        let camera = makeCamera(upstream, staleAfter: .seconds(5), states: states)
        let mailbox = await startWatching(camera)
        try await states.wait(timeout: .seconds(15)) { $0.restarts >= 1 }
        upstream.behaviour = .stream
        _ = try await frames(mailbox, 3)
        #expect(upstream.accepted >= 2)
        await camera.shutdown()
        await upstream.stop()
    }

    @Test func aliveButFramelessUpstreamIsStale() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        upstream.behaviour = .textOnly
        let states = StateRecorder()
        let camera = makeCamera(upstream, staleAfter: .seconds(1), states: states)
        await camera.activate()
        try await states.wait(timeout: .seconds(15)) { $0.restarts >= 1 }
        #expect(await camera.state().lastError?.hasPrefix("stale") == true)
        await camera.shutdown()
        await upstream.stop()
    }

    @Test(arguments: [
        ("/auth", "401 from upstream"), ("/missing", "404 from upstream"), ("/error", "500 from upstream"),
        ("/html", "not a WebSocket endpoint: text/html"),
    ])
    func failedUpgradesAreClearErrorsAndRetried(path: String, expected: String) async throws {
        let upstream = try await FaultyWebSocketUpstream()
        let states = StateRecorder()
        let camera = makeCamera(upstream, path: path, states: states)
        await camera.activate()
        try await states.wait(timeout: .seconds(15)) { $0.restarts >= 3 }
        let error = await camera.state().lastError ?? ""
        #expect(error.hasPrefix("websocket ws://127.0.0.1"), "\(error)")
        #expect(error.contains(expected), "\(error)")
        await camera.shutdown()
        await upstream.stop()
    }

}
