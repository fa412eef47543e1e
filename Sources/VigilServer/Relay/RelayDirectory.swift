import Synchronization

/// Where each camera that does not run on this node can be reached: the
/// base URL of its owner (a cluster) or of the origin (an edge relay).
///
/// In a cluster `LeaseKeeper` replaces the whole picture every round (the
/// nodes' addresses and who holds which lease) and `ClusterBridge` moves a
/// camera to its new owner as soon as that node's state says so, so a
/// viewer or a redirect finds the owner without waiting for a round.
final class RelayDirectory: Sendable {
    private struct Picture {
        /// Node → base URL.
        var addresses: [String: String] = [:]
        /// Camera → the node running it, when that is not this node.
        var owners: [String: String] = [:]
    }

    private let picture = Mutex(Picture())

    /// Every round of the cluster: the live nodes' addresses and the
    /// owners of the cameras this node does not run.
    func update(addresses: [String: String], owners: [String: String]) {
        picture.withLock { $0 = Picture(addresses: addresses, owners: owners) }
    }

    /// `camera` now runs on `node` (another node's notice said so).
    func camera(_ camera: String, runsOn node: String) {
        picture.withLock { $0.owners[camera] = node }
    }

    /// An edge relay: every camera comes from `origin`.
    func relayEverything(_ cameras: [String], from origin: String) {
        let node = "origin"
        update(addresses: [node: origin], owners: Dictionary(uniqueKeysWithValues: cameras.map { ($0, node) }))
    }

    func upstream(of camera: String) -> String? {
        picture.withLock { picture in picture.owners[camera].flatMap { picture.addresses[$0] } }
    }
}
