import Logging
import VigilAPI
import VigilCore
import VigilSources

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Every camera of the server, by id, in config order.
public final class CameraRegistry: Sendable {
    public let cameras: [Camera]
    private let byID: [String: Camera]
    /// Every state change and motion, capture and session change, versioned, for the sockets.
    public let feed: ChangeFeed
    /// The inboxes of `push` cameras, by camera id.
    public let inboxes: [String: PushInbox]

    public let store: (any RecordStore)?
    /// Where captured stills are written (`DATA_DIR/captures`).
    public let capturesDir: String?
    /// Recorded motion events (`DATA_DIR/events`).
    public let archive: MotionArchive?
    /// Motion detection, one per camera with `motion.enabled`.
    public let monitors: [MotionMonitor]
    /// Runs `on_event_start` / `on_event_end`.
    public let hooks: HookRunner?
    /// In a cluster: this node's name.
    public let node: String?
    /// Starts and stops asked of this node, once stored, for the other
    /// nodes (`ClusterBridge`); the oldest dropped past 1,024 (each round
    /// reads every desired state anyway).
    let desiredStored: BoundedQueue<DesiredChange>

    /// Reads every camera's desired state and recovers what the last run
    /// left unfinished (captures, motion events) before any camera starts.
    /// In a cluster no camera runs until its lease is taken; on an edge relay none ever does.
    public init(config: VigilConfig, store: (any RecordStore)?, logger: Logger) async {
        let feed = ChangeFeed()
        node = config.cluster?.nodeID
        let desiredStored = BoundedQueue<DesiredChange>(capacity: 1024, overflow: .dropOldest)
        self.desiredStored = desiredStored
        var capturesDir: String?
        var desired: [String: DesiredState] = [:]
        if let store {
            capturesDir = await store.directory.prepareCaptures(store: store, logger: logger)
            do {
                desired = try await store.desiredStates()
            } catch {
                logger.error("cannot read the cameras' desired states, assuming running: \(error)")
            }
        }
        self.capturesDir = capturesDir
        self.store = store
        var archive: MotionArchive?
        // Always there with a store: events recorded earlier stay listed, and
        // retention keeps running, also when no camera detects motion now.
        if let store {
            let dir = store.directory.events
            do {
                let motionArchive = try MotionArchive(dir: dir, store: store, config: config.events, logger: logger)
                try await motionArchive.recover()
                archive = motionArchive
            } catch {
                logger.error("motion events disabled: cannot prepare \(dir): \(error)")
            }
        }
        self.archive = archive
        let usesHooks = config.cameras.contains {
            $0.motion.enabled && ($0.motion.onEventStart != nil || $0.motion.onEventEnd != nil)
        }
        let hooks = usesHooks ? HookRunner(capacity: config.events.hookQueue, logger: logger) : nil
        self.hooks = hooks
        var cameras: [Camera] = []
        var inboxes: [String: PushInbox] = [:]
        var monitors: [MotionMonitor] = []
        for cameraConfig in config.cameras {
            let inbox = PushInbox()
            if case .push = cameraConfig.source { inboxes[cameraConfig.id] = inbox }
            var cameraLogger = logger
            cameraLogger[metadataKey: "camera"] = "\(cameraConfig.id)"
            let camera = Camera(
                config: cameraConfig,
                makeSource: SourceFactory.make(for: cameraConfig, logger: logger, inbox: inbox),
                reachable: UpstreamProbe.make(for: cameraConfig.source),
                store: store,
                desired: desired[cameraConfig.id] ?? .running,
                held: !config.camerasRunElsewhere,
                node: config.cluster?.nodeID,
                feed: feed,
                capturer: cameraConfig.capture.command.map { CommandCapturer(command: $0, logger: cameraLogger) },
                capturesDir: capturesDir,
                logger: logger,
                onDesiredStored: { [desiredStored] in desiredStored.push(DesiredChange(camera: $0, desired: $1)) }
            )
            cameras.append(camera)
            if cameraConfig.motion.enabled, let archive {
                let monitor = MotionMonitor(
                    camera: cameraConfig.id, config: cameraConfig.motion, maxFrameAge: cameraConfig.maxFrameAge,
                    archive: archive, feed: feed, hooks: hooks, logger: logger, active: !config.camerasRunElsewhere)
                camera.hub.subscribe(monitor, isViewer: false)
                monitors.append(monitor)
            }
        }
        self.monitors = monitors
        self.cameras = cameras
        self.inboxes = inboxes
        self.feed = feed
        self.byID = Dictionary(uniqueKeysWithValues: cameras.map { ($0.id, $0) })
    }

    public func camera(_ id: String) -> Camera? {
        byID[id]
    }

    /// In a cluster: this node took the camera's lease; it runs here now,
    /// motion detection included.
    func hold(_ id: String) async {
        guard let camera = byID[id] else { return }
        monitors.first { $0.camera == id }?.setActive(true)
        await camera.hold()
    }

    /// In a cluster: the lease is gone; the camera stops here.
    func letGo(_ id: String, reason: String) async {
        guard let camera = byID[id] else { return }
        monitors.first { $0.camera == id }?.setActive(false)
        await camera.letGo(reason: reason)
    }

    public func states() async -> [CameraState] {
        var states: [CameraState] = []
        for camera in cameras {
            states.append(await camera.state())
        }
        return states
    }
}
