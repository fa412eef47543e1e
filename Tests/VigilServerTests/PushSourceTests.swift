import Foundation
import Testing
import VigilCore
import VigilSources

/// `kind: push` and `POST /api/v1/cameras/{id}/frames` on a real server.
@Suite(.serialized) struct PushSourceTests {
    static let config = """
        cameras:
          door:
            source: {kind: push}
            stale_after: 1s
            max_frame_age: 800ms
            max_frame_bytes: 60000
          pattern:
            source: {kind: testpattern, width: 160, height: 120, fps: 5}
        """

    func jpeg(_ index: Int, width: Int = 160, height: Int = 120, noise: Int = 0) throws -> [UInt8] {
        let renderer = try TestPatternRenderer(label: "push", width: width, height: height, quality: 90)
        return FaultyMJPEGUpstream.bytes(try renderer.render(index: index, noise: noise))
    }

    @Test func pushedFramesReachViewersAndAQuietPushCameraIsStaleNotRestarted() async throws {
        try await withServer(config: Self.config) { server, _ in
            #expect(try HTTPTestClient.request(port: server.port, "GET", "/cameras/door/snapshot.jpg").status == 503)

            let first = try jpeg(1)
            let pushed = try HTTPTestClient.request(
                port: server.port, "POST", "/api/v1/cameras/door/frames", body: first)
            #expect(pushed.status == 200, "\(pushed.text)")
            #expect(try pushed.json()["width"] as? Int == 160)
            try await waitUntil("door live") {
                try HTTPTestClient.camera(port: server.port, "door")["phase"] as? String == "live"
            }
            let snapshot = try HTTPTestClient.request(port: server.port, "GET", "/cameras/door/snapshot.jpg")
            #expect(snapshot.status == 200 && snapshot.body == first, "the snapshot is the pushed frame")

            let stream = try MJPEGTestStream(port: server.port, path: "/cameras/door/stream.mjpg")
            _ = try stream.nextPart()  // the greeting: the latest frame
            let second = try jpeg(2)
            #expect(
                try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/frames", body: second)
                    .status
                    == 200)
            var sawSecond = false
            for _ in 0..<5 where !sawSecond {
                sawSecond = try stream.nextPart().jpeg == second
            }
            #expect(sawSecond, "a viewer receives the pushed frame")

            // Nothing pushed for stale_after: stale, with placeholder cards, but no restart.
            try await waitUntil("door stale") {
                try HTTPTestClient.camera(port: server.port, "door")["phase"] as? String == "stale"
            }
            let card = try stream.nextPart()
            #expect(card.jpeg != second, "viewers get the placeholder while stale")
            let stale = try HTTPTestClient.camera(port: server.port, "door")
            #expect(stale["restarts"] as? Int == 0)
            #expect(try HTTPTestClient.request(port: server.port, "GET", "/cameras/door/snapshot.jpg").status == 503)

            #expect(
                try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/frames", body: try jpeg(3))
                    .status == 200)
            try await waitUntil("door live again") {
                try HTTPTestClient.camera(port: server.port, "door")["phase"] as? String == "live"
            }
        }
    }

    @Test func badPushesGetClearErrors() async throws {
        try await withServer(config: Self.config) { server, _ in
            func post(_ path: String, _ body: [UInt8]) throws -> (Int, String?) {
                let response = try HTTPTestClient.request(port: server.port, "POST", path, body: body)
                return (response.status, try? response.json()["error"] as? String)
            }
            let good = try jpeg(1)
            #expect(try post("/api/v1/cameras/door/frames", Array("hello".utf8)) == (400, "invalid_jpeg"))
            #expect(try post("/api/v1/cameras/door/frames", good + good) == (400, "invalid_jpeg"))
            #expect(
                try post("/api/v1/cameras/door/frames", Array(good.prefix(good.count / 2))) == (400, "invalid_jpeg"))
            let big = try jpeg(1, width: 640, height: 480, noise: 30)
            #expect(big.count > 60000)
            #expect(try post("/api/v1/cameras/door/frames", big) == (413, "too_large"))
            #expect(try post("/api/v1/cameras/pattern/frames", good) == (409, "not_push_camera"))
            #expect(try post("/api/v1/cameras/nope/frames", good) == (404, "unknown_camera"))
            #expect(try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/stop").status == 200)
            #expect(try post("/api/v1/cameras/door/frames", good) == (409, "not_running"))
            #expect(try HTTPTestClient.request(port: server.port, "GET", "/healthz").text == "ok")
        }
    }
}
