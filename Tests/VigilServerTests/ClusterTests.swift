import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Several `vigil serve` nodes on one real PostgreSQL: every camera runs on
/// exactly one node, moves when its node dies or freezes, and never runs on
/// two nodes at once (sampled from the process table throughout).
@Suite(.serialized) struct ClusterTests {
    @Test func camerasRunOnceMoveWhenANodeDiesOrFreezesAndNeverRunTwice() async throws {
        let rig = try ClusterRig(cameras: (1...6).map { "cam\($0)" })
        try rig.start(["a", "b", "c"])
        try await waitUntil("six cameras spread over three nodes, each running once", timeout: .seconds(30)) {
            let placement = rig.placement()
            let used = Set(placement.values.flatMap { $0 })
            return rig.everyCameraRunsOnce() && used == ["a", "b", "c"]
        }
        let watch = DoubleRunWatch(rig)

        // A node dies: its cameras are live elsewhere within the lease (3 s)
        // plus a round and a source start.
        let onA = rig.placement().filter { $0.value == ["a"] }.map(\.key)
        let killedAt = Date()
        rig.crash("a")
        try await waitUntil("a's cameras run on b and c", timeout: .seconds(20)) { rig.everyCameraRunsOnce() }
        let failover = Date().timeIntervalSince(killedAt)
        print("cluster: SIGKILL → \(onA.sorted()) running elsewhere after \(String(format: "%.2f", failover)) s")
        #expect(failover < 10)
        for camera in onA {
            let owner = try #require(rig.placement()[camera]?.first)
            try await waitUntil("\(camera) live on \(owner)") {
                try HTTPTestClient.camera(port: rig.port(owner), camera)["phase"] as? String == "live"
            }
        }

        // A node freezes (TCP open, nothing answered): c takes its cameras.
        rig.freeze("b")
        let frozenAt = Date()
        try await waitUntil("every camera runs on c", timeout: .seconds(20)) {
            let placement = rig.placement()
            return rig.cameras.allSatisfy { placement[$0] == ["c"] }
        }
        print("cluster: SIGSTOP → all on c after \(String(format: "%.2f", Date().timeIntervalSince(frozenAt))) s")
        // It comes back: it stops what it ran at once, before anything else.
        let stoppedIn = try rig.thaw("b")
        print("cluster: SIGCONT → b stopped its old cameras in \(String(format: "%.3f", stoppedIn)) s")
        #expect(stoppedIn < 3)
        // And then takes its share again from c, one camera at a time.
        try await waitUntil("b and c share the cameras", timeout: .seconds(30)) {
            let placement = rig.placement()
            return rig.everyCameraRunsOnce() && placement.values.filter { $0 == ["b"] }.count == 3
        }
        let doubles = await watch.finish()
        #expect(doubles.isEmpty, "ran on two nodes at once: \(doubles.prefix(5))")
    }

    @Test func aStopAskedOfAnyNodeStopsTheCameraWhereItRuns() async throws {
        let rig = try ClusterRig(cameras: ["porch", "garden"])
        try rig.start(["a", "b"])
        try await waitUntil("both cameras run once", timeout: .seconds(30)) { rig.everyCameraRunsOnce() }
        let owner = try #require(rig.placement()["porch"]?.first)
        let other = owner == "a" ? "b" : "a"
        let stop = try HTTPTestClient.request(port: rig.port(other), "POST", "/api/v1/cameras/porch/stop")
        #expect(stop.status == 200, "\(stop.text)")
        // The node asked says at once what it was asked, not the owner's older state.
        #expect(try stop.json()["desired"] as? String == "stopped")
        #expect(try HTTPTestClient.camera(port: rig.port(other), "porch")["desired"] as? String == "stopped")
        try await waitUntil("porch stopped on \(owner)", timeout: .seconds(10)) { rig.placement()["porch"] == nil }
        #expect(try HTTPTestClient.camera(port: rig.port(owner), "porch")["desired"] as? String == "stopped")
        #expect(try HTTPTestClient.request(port: rig.port(other), "POST", "/api/v1/cameras/porch/start").status == 200)
        try await waitUntil("porch runs again", timeout: .seconds(10)) { rig.placement()["porch"]?.count == 1 }
    }

    @Test func theEventsSocketOfAnyNodeShowsEveryCameraStopsAndMotionOfTheCluster() async throws {
        let rig = try ClusterRig(
            cameras: ["porch", "door", "garden"],
            customCameras: [
                "porch": "source: {kind: testpattern, fps: 10}\nprefer: a",
                "door":
                    "source: {kind: push}\nstale_after: 30s\nprefer: b\nmotion: {enabled: true, analysis_fps: 10, threshold: 1, pre_capture: 500ms, post_capture: 1s, event_gap: 2s}",
                "garden": "source: {kind: testpattern, fps: 10}\nprefer: c",
            ])
        try rig.start(["a", "b", "c"])
        let owners = ["porch": "a", "door": "b", "garden": "c"]
        for (camera, owner) in owners {
            try await waitUntil("\(camera) held by \(owner)", timeout: .seconds(30)) {
                try HTTPTestClient.camera(port: rig.port(owner), camera)["owner"] as? String == owner
            }
        }
        // The page's socket on node a: every camera, each with its owner.
        let events = try await WSTestClient.connect(port: rig.port("a"), path: "/api/v1/events")
        defer { Task { await events.close() } }
        let hello = try await events.nextJSON(type: "hello")
        let listed = try #require(hello["cameras"] as? [[String: Any]])
        #expect(Set(listed.compactMap { $0["id"] as? String }) == ["porch", "door", "garden"])
        var seen: [String: [String: Any]] = Dictionary(
            uniqueKeysWithValues: listed.map { ($0["id"] as! String, $0) })
        var version = try #require(hello["version"] as? Int)
        /// Reads the socket until `condition` holds for the cameras' latest states.
        func readUntil(_ what: String, _ condition: ([String: [String: Any]]) -> Bool) async throws -> [[String: Any]] {
            var others: [[String: Any]] = []
            while !condition(seen) {
                let message = try await events.nextJSON(timeout: .seconds(20))
                let next = try #require(message["version"] as? Int, "\(what): \(message)")
                #expect(next > version, "versions increase")
                version = next
                if message["type"] as? String == "state", let camera = message["camera"] as? [String: Any] {
                    seen[camera["id"] as! String] = camera
                } else {
                    others.append(message)
                }
            }
            return others
        }
        _ = try await readUntil("owners") { seen in
            owners.allSatisfy { seen[$0.key]?["owner"] as? String == $0.value }
                && seen["garden"]?["phase"] as? String == "live"
        }

        // Stops asked of node c: of a camera c runs and of one a runs.
        for camera in ["garden", "porch"] {
            let stop = try HTTPTestClient.request(port: rig.port("c"), "POST", "/api/v1/cameras/\(camera)/stop")
            #expect(stop.status == 200, "\(stop.text)")
            _ = try await readUntil("\(camera) stopped") { seen in
                seen[camera]?["desired"] as? String == "stopped" && seen[camera]?["phase"] as? String == "stopped"
            }
        }

        // Frames pushed to a node that does not run the camera are sent on to the one that does.
        let pushed = try HTTPTestClient.request(
            port: rig.port("a"), "POST", "/api/v1/cameras/door/frames", body: try MotionTests.frame(0, square: nil))
        #expect(pushed.status == 307)
        #expect(pushed.headers["location"] == "http://127.0.0.1:\(rig.port("b"))/api/v1/cameras/door/frames")

        // Motion recorded on node b, seen on a.
        let pusher = MotionTests.Pusher(port: rig.port("b"))
        try await pusher.push(10, moving: false)
        try await pusher.push(20, moving: true)
        var motion: [String: Any]?
        while motion == nil {
            let message = try await events.nextJSON(timeout: .seconds(20))
            if message["type"] as? String == "motion_start" { motion = message }
        }
        #expect(motion?["camera"] as? String == "door")
        let id = try #require((motion?["event"] as? [String: Any])?["id"] as? String)
        // The event's row is in the shared store: any node lists it.
        try await waitUntil("event \(id) listed on c") {
            try HTTPTestClient.request(port: rig.port("c"), "GET", "/api/v1/events?camera=door").jsonArray()
                .contains { $0["id"] as? String == id }
        }
    }

    @Test func viewersOfACameraRunningElsewhereShareOneRelayedConnection() async throws {
        let rig = try ClusterRig(
            cameras: ["porch"], customCameras: ["porch": "source: {kind: testpattern, fps: 10}\nprefer: a"])
        try rig.start(["a", "b"])
        try await waitUntil("b knows a runs porch", timeout: .seconds(30)) {
            try HTTPTestClient.camera(port: rig.port("b"), "porch")["owner"] as? String == "a"
                && HTTPTestClient.camera(port: rig.port("a"), "porch")["phase"] as? String == "live"
        }
        // Two viewers on b: frames come, and a sees one client (b's relay).
        let first = try MJPEGTestStream(port: rig.port("b"), path: "/cameras/porch/stream.mjpg")
        let second = try MJPEGTestStream(port: rig.port("b"), path: "/cameras/porch/stream.mjpg")
        for stream in [first, second] {
            #expect(stream.status == 200)
            for _ in 0..<5 {
                let part = try stream.nextPart()
                #expect(part.jpeg.prefix(2) == [0xFF, 0xD8])
            }
        }
        try await waitUntil("a serves porch to one client") {
            try HTTPTestClient.camera(port: rig.port("a"), "porch")["clients"] as? Int == 1
        }
        try await waitUntil("b shows a's count") {
            try HTTPTestClient.camera(port: rig.port("b"), "porch")["clients"] as? Int == 1
        }
        // b's view of porch is a's: b does not publish its own fps and viewer
        // count for it (2 viewers here, 1 client there) every second.
        let events = try await WSTestClient.connect(port: rig.port("b"), path: "/api/v1/events")
        _ = try await events.nextJSON(type: "hello")
        let watchUntil = ContinuousClock.now + .seconds(4)
        var porchStates = 0
        while ContinuousClock.now < watchUntil {
            do {
                let message = try await events.nextJSON(timeout: watchUntil - ContinuousClock.now)
                if message["type"] as? String == "state",
                    (message["camera"] as? [String: Any])?["id"] as? String == "porch"
                {
                    porchStates += 1
                }
            } catch {
                if ContinuousClock.now < watchUntil { Issue.record("events socket: \(error)") }
                break
            }
        }
        await events.close()
        #expect(porchStates <= 2, "\(porchStates) states of porch in 4 s on a node that only relays it")
        let snapshot = try HTTPTestClient.request(port: rig.port("b"), "GET", "/cameras/porch/snapshot.jpg")
        #expect(snapshot.status == 200 && snapshot.body.prefix(2) == [0xFF, 0xD8])
        // The viewers leave: the relay's connection ends after its linger.
        first.connection.close()
        second.connection.close()
        try await waitUntil("a serves porch to nobody", timeout: .seconds(20)) {
            try HTTPTestClient.camera(port: rig.port("a"), "porch")["clients"] as? Int == 0
        }
        // A snapshot alone brings a frame through the relay again.
        let again = try HTTPTestClient.request(port: rig.port("b"), "GET", "/cameras/porch/snapshot.jpg")
        #expect(again.status == 200 && again.body.prefix(2) == [0xFF, 0xD8], "\(again.status)")
        // And a live socket, as the page opens one.
        let live = try await WSTestClient.connect(port: rig.port("b"), path: "/cameras/porch/live")
        let frame = try await live.nextBinary()
        #expect(frame.prefix(2) == [0xFF, 0xD8])
        await live.close()

        // A still asked of b is taken by a (b redirects there); b lists it
        // from the shared store and sends its download to a, which has the file.
        let asked = try HTTPTestClient.request(port: rig.port("b"), "POST", "/api/v1/cameras/porch/captures")
        #expect(asked.status == 307)
        #expect(asked.headers["location"] == "http://127.0.0.1:\(rig.port("a"))/api/v1/cameras/porch/captures")
        let taken = try HTTPTestClient.request(port: rig.port("a"), "POST", "/api/v1/cameras/porch/captures")
        #expect(taken.status == 202, "\(taken.text)")
        let id = try #require(try taken.json()["id"] as? String)
        try await waitUntil("capture \(id) done, seen from b") {
            try HTTPTestClient.request(port: rig.port("b"), "GET", "/api/v1/captures/\(id)").json()["status"]
                as? String == "done"
        }
        let image = try HTTPTestClient.request(port: rig.port("b"), "GET", "/api/v1/captures/\(id)/image.jpg")
        #expect(image.status == 307)
        let location = try #require(image.headers["location"])
        #expect(location == "http://127.0.0.1:\(rig.port("a"))/api/v1/captures/\(id)/image.jpg")
        let download = try HTTPTestClient.request(port: rig.port("a"), "GET", "/api/v1/captures/\(id)/image.jpg")
        #expect(download.status == 200 && download.body.prefix(2) == [0xFF, 0xD8])
    }

    @Test func aRestartOfPostgreSQLStopsNoCameraAndLosesOrRepeatsNoRecord() async throws {
        let rig = try ClusterRig(
            cameras: ["porch", "door"], lease: "10s",
            customCameras: [
                "porch": """
                source: {kind: exec, command: \(Binaries.fakeCameraCommand(["--fps", "10", "--size", "160x120"]))}
                stale_after: 2s
                prefer: a
                """,
                "door":
                    "source: {kind: push}\nstale_after: 30s\nprefer: b\nmotion: {enabled: true, analysis_fps: 10, threshold: 1, pre_capture: 500ms, post_capture: 1s, event_gap: 2s}",
            ])
        try rig.start(["a", "b"])
        try await waitUntil("porch live on a, door held by b", timeout: .seconds(30)) {
            try HTTPTestClient.camera(port: rig.port("a"), "porch")["phase"] as? String == "live"
                && HTTPTestClient.camera(port: rig.port("b"), "door")["owner"] as? String == "b"
        }
        let porchSource = ProcFS.children(of: rig.node("a").pid)
        #expect(porchSource.count == 1)
        let pusher = MotionTests.Pusher(port: rig.port("b"))
        func motionEvent() async throws {
            try await pusher.push(10, moving: false)
            try await pusher.push(20, moving: true)
            try await pusher.push(40, moving: false)
        }
        try await motionEvent()
        try await waitUntil("the first event is in the store") {
            try rig.postgres.query("SELECT count(*) FROM motion_events WHERE status = 'complete'", database: "cluster")
                == "1"
        }

        // PostgreSQL goes away; meanwhile a motion event and a capture happen.
        rig.postgres.stop()
        let capture = Task.detached {
            try HTTPTestClient.request(port: rig.port("a"), "POST", "/api/v1/cameras/porch/captures")
        }
        try await motionEvent()
        try rig.postgres.start()

        let asked = try await capture.value
        #expect(asked.status == 202, "\(asked.text)")
        let id = try #require(try asked.json()["id"] as? String)
        try await waitUntil("the capture is done", timeout: .seconds(30)) {
            try HTTPTestClient.request(port: rig.port("b"), "GET", "/api/v1/captures/\(id)").json()["status"]
                as? String == "done"
        }
        try await waitUntil("both events are in the store, once each", timeout: .seconds(30)) {
            try rig.postgres.query(
                "SELECT count(*) || ' ' || count(DISTINCT id) FROM motion_events WHERE status = 'complete'",
                database: "cluster") == "2 2"
        }
        #expect(try HTTPTestClient.request(port: rig.port("a"), "GET", "/api/v1/events").jsonArray().count == 2)
        // The camera kept its source the whole time, and is live.
        #expect(ProcFS.children(of: rig.node("a").pid) == porchSource, "porch's source was never restarted")
        #expect(try HTTPTestClient.camera(port: rig.port("a"), "porch")["phase"] as? String == "live")
        #expect(try HTTPTestClient.request(port: rig.port("b"), "GET", "/cameras/porch/snapshot.jpg").status == 200)
    }

    @Test func nodesThatRequireCredentialsRelayFromEachOtherWithTheClusterToken() async throws {
        let rig = try ClusterRig(
            cameras: ["porch"], customCameras: ["porch": "source: {kind: testpattern, fps: 10}\nprefer: a"],
            extraConfig: """
                auth:
                  tokens:
                    - {name: wall, role: viewer, token_sha256: "\(tokenSHA256("wall-viewer-token"))"}
                """,
            token: "shared-cluster-token-0123456789")
        try rig.start(["a", "b"])
        func camera(_ node: String) throws -> [String: Any] {
            try HTTPTestClient.request(port: rig.port(node), "GET", "/api/v1/cameras/porch", token: "wall-viewer-token")
                .json()
        }
        try await waitUntil("b knows a runs porch", timeout: .seconds(30)) {
            try camera("b")["owner"] as? String == "a" && camera("a")["phase"] as? String == "live"
        }
        // Without a credential the nodes refuse; b's relay gets in with the cluster's token.
        #expect(try HTTPTestClient.request(port: rig.port("b"), "GET", "/cameras/porch/snapshot.jpg").status == 401)
        let snapshot = try HTTPTestClient.request(
            port: rig.port("b"), "GET", "/cameras/porch/snapshot.jpg", token: "wall-viewer-token")
        #expect(
            snapshot.status == 200 && snapshot.body.prefix(2) == [0xFF, 0xD8], "\(snapshot.status) \(snapshot.text)")
        try await waitUntil("a serves porch to b's relay") { try camera("a")["clients"] as? Int == 1 }
    }
}
