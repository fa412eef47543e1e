import Synchronization

/// Where each camera that does not run on this node can be relayed from:
/// the base URL of its owner (a cluster: kept by `LeaseKeeper`) or of the
/// origin (an edge relay: `relay_of`).
final class RelayDirectory: Sendable {
    private let upstreams = Mutex<[String: String]>([:])

    /// Replaces the whole map (camera → base URL).
    func set(_ map: [String: String]) {
        upstreams.withLock { $0 = map }
    }

    func upstream(of camera: String) -> String? {
        upstreams.withLock { $0[camera] }
    }
}
