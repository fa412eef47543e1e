import Logging
import VigilCore
import VigilSources

/// Every camera of the server, by id, in config order.
public final class CameraRegistry: Sendable {
    public let cameras: [Camera]
    private let byID: [String: Camera]
    /// Every state change and event, versioned, for the sockets.
    public let events: EventBus
    /// The inboxes of `push` cameras, by camera id.
    public let inboxes: [String: PushInbox]

    public init(config: VigilConfig, store: Store?, logger: Logger) {
        let events = EventBus()
        var cameras: [Camera] = []
        var inboxes: [String: PushInbox] = [:]
        for cameraConfig in config.cameras {
            let inbox = PushInbox()
            if case .push = cameraConfig.source { inboxes[cameraConfig.id] = inbox }
            let camera = Camera(
                config: cameraConfig,
                makeSource: SourceFactory.make(for: cameraConfig, logger: logger, inbox: inbox),
                store: store,
                events: events,
                logger: logger
            )
            cameras.append(camera)
        }
        self.cameras = cameras
        self.inboxes = inboxes
        self.events = events
        self.byID = Dictionary(uniqueKeysWithValues: cameras.map { ($0.id, $0) })
    }

    public func camera(_ id: String) -> Camera? {
        byID[id]
    }

    public func states() async -> [CameraState] {
        var states: [CameraState] = []
        for camera in cameras {
            states.append(await camera.state())
        }
        return states
    }
}
