import Foundation
import Testing

/// An upstream that goes away for a while and comes back: the camera's
/// backoff grew during the outage, but frames return right after the
/// upstream does, because the camera probes an unreachable upstream while it
/// waits (`Camera.waitOut`).
@Suite(.serialized, .timeLimit(.minutes(2))) struct RecoveryTests {
    @Test func framesReturnSoonAfterAnUpstreamOutageDespiteALongBackoff() async throws {
        let upstream = try await FaultyWebSocketUpstream()
        let port = upstream.port
        let dir = try TempDir()
        defer { dir.remove() }
        // The backoff may grow to 30 s; the first restart already waits up to 10 s.
        let server = try VigilProcess(
            config: """
                cameras:
                  relay:
                    source: {kind: websocket, url: "ws://127.0.0.1:\(port)/live"}
                    stale_after: 2s
                    restart: {initial_backoff: 10s, max_backoff: 30s}
                """, dir: dir)
        defer { server.stop() }
        func seq() throws -> Int {
            try HTTPTestClient.camera(port: server.port, "relay")["last_frame_seq"] as? Int ?? 0
        }
        try await waitUntil("frames") { try seq() > 5 }

        await upstream.stop()
        try await waitUntil("the loss noticed") {
            (try HTTPTestClient.camera(port: server.port, "relay")["restarts"] as? Int ?? 0) >= 1
        }
        try await Task.sleep(for: .seconds(3))
        let before = try seq()
        try await upstream.start(port: port)
        let back = ContinuousClock.now
        try await waitUntil("frames again", timeout: .seconds(40)) { try seq() > before }
        let waited = ContinuousClock.now - back
        await upstream.stop()
        #expect(server.output.contains("upstream reachable again: retrying now"), "\(server.output)")
        #expect(waited < .seconds(3), "frames came \(waited) after the upstream returned")
    }
}
