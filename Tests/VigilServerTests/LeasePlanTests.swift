import Testing
import VigilCore

@testable import VigilServer

/// The rules each node applies to the leases at every round (`LeasePlan`):
/// a pure function, so the cases the cluster tests cannot reach on purpose
/// are checked here.
struct LeasePlanTests {
    let six: [(id: String, prefer: String?)] = (1...6).map { ("cam\($0)", nil) }

    func lease(_ camera: String, _ node: String, expired: Bool = false) -> (String, CameraLease) {
        (camera, CameraLease(camera: camera, node: node, generation: 1, expired: expired))
    }

    @Test func nodesStartingTogetherReachForDifferentCamerasFirstAndStopAtTheirShare() {
        let live: Set = ["a", "b", "c"]
        let plans = live.sorted().map {
            LeasePlan.make(node: $0, cameras: six, live: live, leases: [:], held: [])
        }
        for plan in plans {
            #expect(plan.acquire.count == 2, "the share of six cameras on three nodes")
            #expect(plan.release.isEmpty)
        }
        // A node first reaches for a camera it wins the rendezvous for (if it
        // wins any), so nodes starting together do not all reach for the same one.
        func winner(_ camera: String) -> String? {
            live.max { (rendezvousRank($0, camera), $0) < (rendezvousRank($1, camera), $1) }
        }
        for (node, plan) in zip(live.sorted(), plans) where six.contains(where: { winner($0.id) == node }) {
            let first = plan.acquire.first ?? "-"
            #expect(winner(first) == node, "\(node) reached first for \(first), which \(winner(first) ?? "-") wins")
        }
    }

    @Test func aNodeTakesOnlyFreeCamerasAndOnlyUpToItsShare() {
        let leases = Dictionary(uniqueKeysWithValues: [
            lease("cam1", "a"), lease("cam2", "b"), lease("cam3", "b", expired: true),
        ])
        let plan = LeasePlan.make(node: "c", cameras: six, live: ["a", "b", "c"], leases: leases, held: ["cam4"])
        #expect(!plan.acquire.contains("cam1") && !plan.acquire.contains("cam2"), "held by live nodes")
        #expect(plan.acquire.count == 1, "holds one of its two")
        #expect(plan.release.isEmpty)
    }

    @Test func aNodeOverItsShareGivesUpOneCameraARound() {
        // c held all six alone; b has joined.
        let plan = LeasePlan.make(
            node: "c", cameras: six, live: ["b", "c"], leases: [:], held: Set(six.map(\.id)))
        #expect(plan.release.count == 1)
        #expect(plan.acquire.isEmpty)
    }

    @Test func aPreferredCameraGoesToItsNodeWhenItIsAlive() {
        let cameras: [(id: String, prefer: String?)] = [("hall", "b"), ("gate", nil)]
        let holder = LeasePlan.make(
            node: "a", cameras: cameras, live: ["a", "b"], leases: [:], held: ["hall", "gate"])
        #expect(holder.release == ["hall"], "given up at once, whatever the share")
        let preferred = LeasePlan.make(
            node: "b", cameras: cameras, live: ["a", "b"],
            leases: Dictionary(uniqueKeysWithValues: [lease("gate", "a")]), held: [])
        #expect(preferred.acquire == ["hall"], "gate is a's while a lives")
        // Its node dead: anyone may take it.
        let alone = LeasePlan.make(node: "a", cameras: cameras, live: ["a"], leases: [:], held: [])
        #expect(Set(alone.acquire) == ["hall", "gate"])
    }

    @Test func theRendezvousSpreadsCamerasEvenlyAndTheSameWayInEveryProcess() {
        // A fixed function of the names, unlike Swift's per-process Hasher.
        #expect(rendezvousRank("node-1", "cam1") == 0xce39_eaf3_558c_678c)
        // 300 cameras over three nodes whose names differ in one byte: each
        // wins about a third (FNV-1a alone gave one node 270 of them).
        for nodes in [["a", "b", "c"], ["node-1", "node-2", "node-3"]] {
            var wins: [String: Int] = [:]
            for index in 1...300 {
                let camera = "cam\(index)"
                let winner = nodes.max { (rendezvousRank($0, camera), $0) < (rendezvousRank($1, camera), $1) }!
                wins[winner, default: 0] += 1
            }
            #expect(wins.values.allSatisfy { (70...130).contains($0) }, "\(wins)")
        }
    }
}
