import VigilCore

/// What one node does with the camera leases at one tick: which free
/// cameras to try to take and which held ones to give up.
///
/// Every node runs the same rules on the same facts, so they converge
/// without talking to each other:
/// - each live node aims at its fair share, `ceil(cameras / live nodes)`;
/// - a camera with `prefer: N` goes to N whenever N is alive (N takes it
///   even beyond its share; any other holder gives it up);
/// - a node over its share gives up one camera per tick (the one it ranks
///   lowest), so a node that joins gets cameras without a stampede;
/// - free cameras are tried in rendezvous order (a hash of node and camera),
///   so nodes starting together reach for different cameras first.
struct LeasePlan: Equatable {
    /// Free cameras to try, in order, while below the share (preferred ones first).
    var acquire: [String]
    /// Held cameras to give up now.
    var release: [String]

    static func make(
        node: String, cameras: [(id: String, prefer: String?)], live: Set<String>, leases: [String: CameraLease],
        held: Set<String>
    ) -> LeasePlan {
        let nodes = live.union([node])
        let share = (cameras.count + nodes.count - 1) / max(nodes.count, 1)
        func preferred(_ camera: (id: String, prefer: String?)) -> String? {
            camera.prefer.flatMap { nodes.contains($0) ? $0 : nil }
        }
        func isFree(_ id: String) -> Bool {
            guard let lease = leases[id] else { return true }
            return lease.expired && !held.contains(id)
        }
        let mine = cameras.filter { held.contains($0.id) }
        // Someone else's by preference: give it up at once.
        var release = mine.filter { preferred($0).map { $0 != node } ?? false }.map(\.id)
        let keptCount = mine.count - release.count
        if release.isEmpty, keptCount > share {
            let movable = mine.filter { preferred($0) == nil }
            if let lowest = movable.min(by: { rendezvousRank(node, $0.id) < rendezvousRank(node, $1.id) }) {
                release.append(lowest.id)
            }
        }
        let free = cameras.filter { !held.contains($0.id) && isFree($0.id) }
        let forMe = free.filter { preferred($0) == node }.map(\.id)
        let room = max(0, share - keptCount)
        let open = free.filter { preferred($0) == nil }
            .sorted { Self.order(node, $0.id, nodes) < Self.order(node, $1.id, nodes) }
            .prefix(room).map(\.id)
        return LeasePlan(acquire: forMe + open, release: release)
    }

    /// Free cameras whose rendezvous winner is this node come first, then
    /// the rest by this node's rank.
    private static func order(_ node: String, _ camera: String, _ nodes: Set<String>) -> (Int, UInt64) {
        let winner = nodes.max { (rendezvousRank($0, camera), $0) < (rendezvousRank($1, camera), $1) }
        return (winner == node ? 0 : 1, UInt64.max - rendezvousRank(node, camera))
    }
}

/// The rendezvous weight of `camera` on `node`: FNV-1a, then MurmurHash3's
/// 64-bit finaliser. Stable across processes (Swift's `Hasher` is seeded per
/// process). FNV-1a alone ranks badly here: names that differ in one early
/// byte ("node-1", "node-2") keep their order for most cameras, so one node
/// would win nine cameras in ten; the finaliser spreads them evenly.
func rendezvousRank(_ node: String, _ camera: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in node.utf8 + [0] + camera.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }
    hash ^= hash >> 33
    hash &*= 0xff51_afd7_ed55_8ccd
    hash ^= hash >> 33
    hash &*= 0xc4ce_b9fe_1a85_ec53
    hash ^= hash >> 33
    return hash
}
