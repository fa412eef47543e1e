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
        try await waitUntil("porch stopped on \(owner)", timeout: .seconds(10)) { rig.placement()["porch"] == nil }
        #expect(try HTTPTestClient.camera(port: rig.port(owner), "porch")["desired"] as? String == "stopped")
        #expect(try HTTPTestClient.request(port: rig.port(other), "POST", "/api/v1/cameras/porch/start").status == 200)
        try await waitUntil("porch runs again", timeout: .seconds(10)) { rig.placement()["porch"]?.count == 1 }
    }
}
