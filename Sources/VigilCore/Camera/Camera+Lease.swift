import VigilAPI

/// In a cluster every node has every camera, but a camera's source runs
/// only on the node holding its lease (`LeaseKeeper` says when that
/// changes); its desired state is shared through the store, so a start or
/// stop asked of any node reaches the one running it.
extension Camera {
    /// This node now holds the lease: the source runs here if it should.
    public func hold() {
        guard !isHeld else { return }
        isHeld = true
        remote = nil
        logger.info("lease taken: the camera runs on this node")
        if desired == .running, supervisor == nil, !isShutDown, !pausedForCapture {
            spawnSupervisor()
        }
    }

    /// The lease is gone (released, lost or expired): the source stops at
    /// once, before any other node may start it.
    public func letGo(reason: String) async {
        guard isHeld else { return }
        isHeld = false
        logger.notice("lease \(reason): the camera stops on this node")
        await stopSupervisor()
        if phase != .stopped { setPhase(.stopped) } else { changed() }
    }

    /// The state of this camera as `owner`, which runs it, published it
    /// (an edge relay's origin may not say; then there is no owner).
    public func mirror(_ state: CameraState, from owner: String?) {
        guard !isHeld else { return }
        remote = (state, owner)
        // The owner's view of the shared desired state, unless this node's
        // own change is still being written (then the owner has not seen it).
        if desiredWritesPending == 0 { desired = state.desired }
        changed()
    }

    /// Publishes the current state again (for a node that just joined).
    public func republish() {
        changed()
    }

    public var isHeldHere: Bool { isHeld }

    /// A desired state set through another node (read from the store).
    /// Ignored while this node's own change is being written: what was
    /// read is older than it.
    public func adopt(desired value: DesiredState) async {
        guard value != desired, desiredWritesPending == 0 else { return }
        desired = value
        changed()
        if value == .running {
            if isHeld, supervisor == nil, !isShutDown, !pausedForCapture { spawnSupervisor() }
        } else {
            await stopSupervisor()
            if phase != .stopped, !pausedForCapture { setPhase(.stopped) }
        }
    }
}
