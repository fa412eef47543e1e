import Synchronization

/// What one camera's viewers took and missed, counted where it happens
/// (one relaxed atomic add per frame and viewer) and read by `/metrics`.
public final class ViewerTraffic: Sendable {
    /// The two ways a viewer watches.
    public enum Kind: String, Sendable, CaseIterable {
        case mjpeg
        case websocket
    }

    private let mjpegViewers = Atomic<Int>(0)
    private let websocketViewers = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)

    public init() {}

    public func viewerJoined(_ kind: Kind) { adjust(kind, by: 1) }
    public func viewerLeft(_ kind: Kind) { adjust(kind, by: -1) }

    /// A frame written to a viewer.
    public func frameSent() { sent.add(1, ordering: .relaxed) }
    /// A frame a slow viewer never got (a newer one replaced it).
    public func frameDropped() { dropped.add(1, ordering: .relaxed) }

    public func viewers(_ kind: Kind) -> Int {
        switch kind {
        case .mjpeg: mjpegViewers.load(ordering: .relaxed)
        case .websocket: websocketViewers.load(ordering: .relaxed)
        }
    }
    public var framesSent: Int { sent.load(ordering: .relaxed) }
    public var framesDropped: Int { dropped.load(ordering: .relaxed) }

    private func adjust(_ kind: Kind, by delta: Int) {
        switch kind {
        case .mjpeg: mjpegViewers.add(delta, ordering: .relaxed)
        case .websocket: websocketViewers.add(delta, ordering: .relaxed)
        }
    }
}
