import Logging
import VigilAPI

/// Where Vigil keeps what must survive a restart: each camera's `desired`
/// state, captures, motion events and upload sessions.
///
/// Two engines implement it: `SQLiteStore` (the default, one file in the
/// data dir) and `PostgresStore` (several nodes sharing one database). The
/// files the rows name (stills, clips, thumbnails, session frames) always
/// live in the data dir of the node that wrote them.
///
/// Rows carry the node that wrote them. Reads for the API see every node's
/// rows; the recovery and retention reads (`…OfThisNode`) see only this
/// node's, because only this node has their files.
public protocol RecordStore: Sendable {
    /// The data dir of this node: the files the rows name.
    var directory: DataDirectory { get }
    /// The node these rows are written by (`cluster.node_id`, or "local").
    var node: String { get }

    /// Every camera's persisted desired state (cameras never set are absent).
    func desiredStates() async throws -> [String: DesiredState]
    /// Persists the desired state of `camera` (durably, before returning).
    func setDesired(_ desired: DesiredState, camera: String) async throws

    /// Inserts or replaces a capture's row.
    func saveCapture(_ record: CaptureRecord) async throws
    func capture(id: String) async throws -> CaptureRecord?
    /// Captures newest first, of one camera or all.
    func captures(camera: String?, limit: Int) async throws -> [CaptureRecord]
    /// Marks this node's captures that were waiting or running when it
    /// stopped as failed (their files were never completed). Returns how many.
    func failInterruptedCapturesOfThisNode(now: Double) async throws -> Int

    func saveSession(_ record: SessionRecord) async throws
    func session(id: String) async throws -> SessionRecord?
    /// Sessions, most recently updated first.
    func sessions(limit: Int) async throws -> [SessionRecord]
    /// This node's sessions in `state` last updated before `before` (seconds since 1970).
    func sessionsOfThisNode(in state: SessionState, updatedBefore before: Double) async throws -> [SessionRecord]
    func deleteSession(id: String) async throws

    /// Inserts or replaces an event's row.
    func saveMotionEvent(_ record: MotionEventRecord) async throws
    func motionEvent(id: String) async throws -> MotionEventRecord?
    /// Events newest first, of one camera or all, started at or after `since`.
    func motionEvents(camera: String?, since: Double?, limit: Int) async throws -> [MotionEventRecord]
    /// This node's events in `status` (e.g. the ones that were recording at a crash).
    func motionEventsOfThisNode(in status: MotionEventStatus) async throws -> [MotionEventRecord]
    /// This node's finished events, oldest first: the order retention deletes them in.
    func finishedMotionEventsOfThisNodeOldestFirst(limit: Int) async throws -> [MotionEventRecord]
    /// Bytes of this node's event files, by the rows.
    func motionEventBytesOfThisNode() async throws -> Int64
    /// The names of every file one of this node's event rows refers to.
    func motionEventFilesOfThisNode() async throws -> Set<String>
    func deleteMotionEvent(id: String) async throws

    /// Lets go of the connections (after the last write of a shutdown).
    func close()

    /// In a cluster: where `node` is reached (its `advertise_url`), for
    /// files that only that node has. Nil alone.
    func address(of node: String) async throws -> String?
}

/// Opens the store `config` names: `store.kind` and, for a cluster, this node.
public func openRecordStore(_ config: VigilConfig, logger: Logger) async throws -> any RecordStore {
    let directory = DataDirectory(config.server.dataDir)
    switch config.store {
    case .sqlite:
        return try SQLiteStore(directory: directory)
    case .postgres(let address):
        #if PostgreSQL
            return try await PostgresStore.open(
                address: address, node: config.cluster?.nodeID ?? "local", directory: directory, logger: logger)
        #else
            throw UnsupportedStore(
                description:
                    "store: {kind: postgres} needs a Vigil built with PostgreSQL (the default build; this one was made without it, e.g. by make release-small)"
            )
        #endif
    }
}

public struct UnsupportedStore: Error, CustomStringConvertible {
    public let description: String
}
