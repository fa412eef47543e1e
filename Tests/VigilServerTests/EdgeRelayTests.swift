import Foundation
import Testing

/// Edge relays (`relay_of`) behind a real nginx: many viewers of one
/// origin camera served by the edges, the origin sending each frame once
/// per edge.
@Suite(.serialized) struct EdgeRelayTests {
    @Test func twoHundredViewersThroughNginxAndTwoEdgesCostTheOriginTwoConnections() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        // The origin asks for credentials; the edges present a viewer's token.
        let origin = try VigilProcess(
            config: """
                auth:
                  tokens:
                    - {name: edges, role: viewer, token_sha256: "\(tokenSHA256("edge-relay-token"))"}
                cameras:
                  stage: {source: {kind: testpattern, fps: 30, width: 320, height: 240}}
                """, dir: dir, dataDir: dir.file("origin"))
        defer { origin.stop() }
        let edges = try (1...2).map { index in
            try VigilProcess(
                config: "relay_of: \"http://127.0.0.1:\(origin.port)/?token=edge-relay-token\"\n", dir: dir,
                dataDir: dir.file("edge\(index)"))
        }
        defer { edges.forEach { $0.stop() } }
        let nginx = try Nginx(dir: dir, upstreams: edges.map(\.port))
        defer { nginx.stop() }

        // The edge shows the origin's camera as the origin does.
        try await waitUntil("stage live, seen through an edge") {
            try HTTPTestClient.camera(port: edges[0].port, "stage")["phase"] as? String == "live"
        }
        // Control belongs to the origin: the edge redirects it there.
        let stop = try HTTPTestClient.request(port: nginx.port, "POST", "/api/v1/cameras/stage/stop")
        #expect(stop.status == 307)
        #expect(stop.headers["location"] == "http://127.0.0.1:\(origin.port)/api/v1/cameras/stage/stop")

        let load = try Binaries.runLoad([
            "fanout", "--url", "http://127.0.0.1:\(nginx.port)/cameras/stage/stream.mjpg", "--clients", "200",
            "--duration", "6", "--warmup", "3",
        ])
        print(load.stdout)
        let results = BenchLine.parse(load.stdout)
        #expect(load.status == 0, "\(load.stderr)")
        #expect(results["errors"] == 0)
        #expect((results["fast_fps_median"] ?? 0) >= 29, "median fps through nginx: \(results)")
        // Each edge holds one connection to the origin, whatever its viewers.
        let state = try HTTPTestClient.request(
            port: origin.port, "GET", "/api/v1/cameras/stage", token: "edge-relay-token"
        ).json()
        #expect(state["clients"] as? Int == 2)
    }
}
