/// `cluster:`: this node's place among several sharing one PostgreSQL store.
public struct ClusterConfig: Sendable, Equatable {
    /// This node's name, unique in the cluster (letters, digits, `_`, `-`).
    public var nodeID: String
    /// Where the other nodes (and redirected clients) reach this one.
    public var advertiseURL: String
    /// How long a camera stays with a node that stopped renewing its lease;
    /// leases are renewed every third of it.
    public var lease: Duration = .seconds(10)
    /// Shared by the nodes: each presents it (`Bearer`) when it relays a
    /// camera from another, and accepts it as a viewer's token.
    public var token: String?

    public init(nodeID: String, advertiseURL: String) {
        self.nodeID = nodeID
        self.advertiseURL = advertiseURL
    }
}
