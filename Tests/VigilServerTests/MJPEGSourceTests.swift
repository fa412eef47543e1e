import Foundation
import Logging
import Testing
import VigilCore
import VigilSources

/// The `mjpeg` source against a real HTTP upstream on 127.0.0.1 that
/// misbehaves on request: every fault is injected for real.
@Suite(.serialized) struct MJPEGSourceTests {
    func makeCamera(
        _ upstream: FaultyMJPEGUpstream, staleAfter: Duration = .seconds(1), maxFrameBytes: Int = 1 << 20,
        initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .milliseconds(200),
        username: String? = nil, password: String? = nil, states: StateRecorder? = nil
    ) -> Camera {
        var mjpeg = MJPEGConfig(url: "http://127.0.0.1:\(upstream.port)/stream.mjpg?quality=high")
        mjpeg.username = username
        mjpeg.password = password
        mjpeg.connectTimeout = .seconds(2)
        return makeTestCamera(
            .mjpeg(mjpeg), id: "net", staleAfter: staleAfter, maxFrameBytes: maxFrameBytes,
            initialBackoff: initialBackoff, maxBackoff: maxBackoff, states: states ?? StateRecorder())
    }

    @Test(arguments: [
        FaultyMJPEGUpstream.Style(),
        FaultyMJPEGUpstream.Style(contentLength: false),
        FaultyMJPEGUpstream.Style(lineEnd: "\n"),
        FaultyMJPEGUpstream.Style(declaredBoundary: "\"frame\""),
        FaultyMJPEGUpstream.Style(declaredBoundary: "--frame", writtenBoundary: "--frame"),
        FaultyMJPEGUpstream.Style(writtenBoundary: "frame"),
        FaultyMJPEGUpstream.Style(extraHeaders: "X-Timestamp: 1.5\r\nX-Frame: 7\r\n"),
    ])
    func readsEveryMultipartStyleWithBasicAuth(style: FaultyMJPEGUpstream.Style) async throws {
        let upstream = try FaultyMJPEGUpstream()
        defer { upstream.stop() }
        upstream.style = style
        upstream.requireCredentials("view:s3cret")
        let camera = makeCamera(upstream, username: "view", password: "s3cret")
        let mailbox = await startWatching(camera)
        let frame = try await frames(mailbox, 5)
        #expect(frame.width == 160 && frame.height == 120)
        #expect(await camera.state().restarts == 0)
        await camera.shutdown()
    }

    @Test func httpErrorsBecomeClearErrorsAndAreRetried() async throws {
        let cases: [(FaultyMJPEGUpstream.Behaviour?, String)] = [
            (nil, "401 from upstream"),
            (.status(404), "404 from upstream"),
            (.status(500), "500 from upstream"),
            (.html, "not an MJPEG stream: text/html"),
        ]
        for (behaviour, expected) in cases {
            let upstream = try FaultyMJPEGUpstream()
            defer { upstream.stop() }
            if let behaviour {
                upstream.behaviour = behaviour
            } else {
                upstream.requireCredentials("view:right")
            }
            let states = StateRecorder()
            let camera = makeCamera(upstream, username: "view", password: "wrong", states: states)
            await camera.activate()
            try await states.wait(timeout: .seconds(20)) { ($0.restarts >= 3) && ($0.lastError != nil) }
            let state = await camera.state()
            #expect(state.lastError?.hasPrefix(expected) == true, "\(state.lastError ?? "nil")")
            #expect(state.phase != .live)
            #expect(upstream.accepted >= 3, "each retry is a new connection")
            await camera.shutdown()
        }
    }

    @Test func connectionClosedMidFrameIsReplacedByANewOne() async throws {
        let upstream = try FaultyMJPEGUpstream()
        defer { upstream.stop() }
        let camera = makeCamera(upstream, staleAfter: .seconds(2))
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 3)
        let descriptors = ProcFS.openFileDescriptors()
        upstream.behaviour = .closeMidFrame(after: 2)
        upstream.dropAll()
        let before = try await frames(mailbox, 2)
        upstream.behaviour = .stream
        let last = try await waitForRecovery(mailbox, after: before, budget: .seconds(2) + .seconds(2))
        #expect(last.seq > before.seq)
        #expect(upstream.accepted >= 3)
        try await waitUntil("one upstream connection") { upstream.openConnections == 1 }
        #expect(ProcFS.openFileDescriptors() <= descriptors, "no descriptor left behind")
        let state = await camera.state()
        #expect(state.restarts >= 1)
        #expect(state.lastError?.contains("upstream") == true, "\(state.lastError ?? "nil")")
        await camera.shutdown()
    }

    @Test func zombieUpstreamIsTornDownAndReplaced() async throws {
        let upstream = try FaultyMJPEGUpstream()
        defer { upstream.stop() }
        let states = StateRecorder()
        let camera = makeCamera(upstream, staleAfter: .seconds(1), states: states)
        let mailbox = await startWatching(camera)
        _ = try await frames(mailbox, 3)
        let descriptors = ProcFS.openFileDescriptors()
        upstream.behaviour = .zombie(after: 3)
        upstream.dropAll()
        // Frames of the new connection, then it goes silent but stays open.
        let before = try await frames(mailbox, 3)
        upstream.behaviour = .stream
        let last = try await waitForRecovery(mailbox, after: before, budget: .seconds(1) + .seconds(2))
        #expect(last.seq > before.seq)
        try await waitUntil("zombie connection closed") { upstream.openConnections == 1 }
        #expect(ProcFS.openFileDescriptors() <= descriptors)
        #expect(await camera.state().lastError?.hasPrefix("stale") == true)
        await camera.shutdown()
    }

    @Test func garbageTruncatedAndOversizeFramesAreSkipped() async throws {
        let upstream = try FaultyMJPEGUpstream(fps: 40)
        defer { upstream.stop() }
        #expect(upstream.oversize.count > 40_000)
        upstream.behaviour = .damaged
        let camera = makeCamera(upstream, staleAfter: .seconds(5), maxFrameBytes: 40_000)
        let mailbox = await startWatching(camera)
        for _ in 0..<20 {
            let frame = try await nextRealFrame(mailbox) { _ in true }
            #expect(frame.width == 160, "only whole, small frames come through")
            #expect(frame.jpeg.readableBytes < 40_000)
        }
        #expect(await camera.state().restarts == 0)
        await camera.shutdown()
    }

    @Test func slowTrickleIsTreatedAsStale() async throws {
        let upstream = try FaultyMJPEGUpstream()
        defer { upstream.stop() }
        upstream.behaviour = .trickle
        let states = StateRecorder()
        let camera = makeCamera(upstream, staleAfter: .seconds(1), states: states)
        let mailbox = await startWatching(camera)
        try await states.wait(timeout: .seconds(15)) { $0.restarts >= 1 }
        #expect(await camera.state().lastError?.hasPrefix("stale") == true)
        upstream.behaviour = .stream
        _ = try await frames(mailbox, 3, timeout: .seconds(5))
        await camera.shutdown()
    }

    /// Waits for the first frame after `before`; checks it came within `budget`
    /// of the last frame before the fault.
    func waitForRecovery(_ mailbox: FrameMailbox, after before: Frame, budget: Duration) async throws -> Frame {
        let frame = try await nextRealFrame(mailbox, timeout: budget + .seconds(10)) { $0.seq > before.seq }
        let gap = frame.capturedAt - before.capturedAt
        #expect(gap <= budget, "recovery took \(gap)")
        return frame
    }
}
