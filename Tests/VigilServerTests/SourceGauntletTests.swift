import Foundation
import Testing
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// The faults every network source must survive, run once against each kind
/// of upstream (a real HTTP MJPEG server and a real WebSocket server on
/// 127.0.0.1). What is particular to one kind stays in its own suite.
@Suite(.serialized) struct SourceGauntletTests {
    enum Kind: String, CaseIterable, CustomStringConvertible {
        case mjpeg
        case websocket

        var description: String { rawValue }
    }

    /// One upstream, driven the same way whatever its kind.
    final class Upstream: Sendable {
        let kind: Kind
        let mjpeg: FaultyMJPEGUpstream?
        let websocket: FaultyWebSocketUpstream?
        let port: Int

        init(_ kind: Kind, fps: Double = 20) async throws {
            self.kind = kind
            switch kind {
            case .mjpeg:
                let upstream = try FaultyMJPEGUpstream(fps: fps)
                (mjpeg, websocket, port) = (upstream, nil, upstream.port)
            case .websocket:
                let upstream = try await FaultyWebSocketUpstream()
                (mjpeg, websocket, port) = (nil, upstream, upstream.port)
            }
        }

        var source: SourceConfig {
            switch kind {
            case .mjpeg:
                var config = MJPEGConfig(url: "http://127.0.0.1:\(port)/stream.mjpg")
                config.connectTimeout = .seconds(2)
                return .mjpeg(config)
            case .websocket:
                return .websocket(WebSocketSourceConfig(url: "ws://127.0.0.1:\(port)/live"))
            }
        }

        var openConnections: Int { mjpeg?.openConnections ?? websocket?.openConnections ?? 0 }

        /// New connections are refused (nothing listens on the port).
        func refuse() async {
            mjpeg?.refuse()
            await websocket?.stop()
        }

        func resume() async throws {
            try mjpeg?.resume()
            try await websocket?.start(port: port)
        }

        /// Before the camera connects: the first connection streams for a
        /// while (the baseline), every later one is cut after one frame.
        /// The WebSocket upstream fixes a connection's behaviour when it
        /// accepts it, so its cut is scripted ahead.
        func prepareResets() {
            websocket?.script([.closeAfter(40)])
            websocket?.behaviour = .closeAfter(1)
        }

        /// After the baseline: the resets begin.
        func beginResets() {
            mjpeg?.behaviour = .closeMidFrame(after: 1)
            mjpeg?.dropAll()
        }

        func streamNormally() {
            mjpeg?.behaviour = .stream
            mjpeg?.dropAll()
            websocket?.behaviour = .stream
        }

        /// The RSS a hundred resets may add in this process: the WebSocket
        /// client's per-connection allocations are larger and settle slower.
        var rssAllowance: Int { kind == .mjpeg ? 4 << 20 : 6 << 20 }

        func stop() async {
            mjpeg?.stop()
            await websocket?.stop()
        }
    }

    @Test(arguments: Kind.allCases)
    func refusedConnectionsAreRetriedUntilTheUpstreamReturns(kind: Kind) async throws {
        let upstream = try await Upstream(kind)
        await upstream.refuse()
        let states = StateRecorder()
        // The default backoff: 250 ms doubling to a 10 s ceiling.
        let camera = makeTestCamera(
            upstream.source, id: kind.rawValue, staleAfter: .seconds(2), initialBackoff: .milliseconds(250),
            maxBackoff: .seconds(10), states: states)
        let mailbox = await startWatching(camera)
        // The outage lasts until the backoff has reached its ceiling's range
        // (250 ms · 2⁵ = 8 s): six refused attempts.
        try await states.wait(timeout: .seconds(90)) { $0.restarts >= 6 }
        let during = await camera.state()
        #expect(during.lastError?.isEmpty == false, "the refusal is said: \(during.lastError ?? "nil")")
        if kind == .mjpeg {
            #expect(during.lastError?.contains("Connection refused") == true, "\(during.lastError ?? "nil")")
        }
        try await upstream.resume()
        let back = ContinuousClock.now
        _ = try await nextRealFrame(mailbox, timeout: .seconds(15)) { _ in true }
        let took = ContinuousClock.now - back
        #expect(took <= .seconds(10) + .seconds(2), "recovered \(took) after the upstream returned")
        await camera.shutdown()
        await upstream.stop()
    }

    @Test(arguments: Kind.allCases)
    func hundredResetCyclesLeaveNoDescriptorsOrMemoryBehind(kind: Kind) async throws {
        let upstream = try await Upstream(kind, fps: 100)
        let states = StateRecorder()
        let camera = makeTestCamera(
            upstream.source, id: kind.rawValue, staleAfter: .seconds(2), maxFrameBytes: 40_000,
            initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(2), states: states)
        let mailbox = FrameMailbox()
        camera.hub.subscribe(mailbox)
        upstream.prepareResets()
        await camera.activate()
        _ = try await frames(mailbox, 3)
        try await waitUntil("one upstream connection") { upstream.openConnections == 1 }
        let descriptors = ProcFS.openFileDescriptors()
        let rss = ProcFS.rss(pid: getpid()) ?? 0
        upstream.beginResets()
        try await states.wait(timeout: .seconds(90)) { $0.restarts >= 100 }
        upstream.streamNormally()
        let restarts = await camera.state().restarts
        let latest = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(mailbox, timeout: .seconds(15)) { $0.seq > latest }
        try await waitUntil("one upstream connection") { upstream.openConnections == 1 }
        #expect(ProcFS.openFileDescriptors() <= descriptors, "descriptors before \(descriptors)")
        let grown = (ProcFS.rss(pid: getpid()) ?? 0) - rss
        #expect(grown < upstream.rssAllowance, "RSS grew by \(grown) bytes over \(restarts) resets")
        await camera.shutdown()
        await upstream.stop()
    }
}
