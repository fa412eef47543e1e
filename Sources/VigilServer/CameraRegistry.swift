import Logging
import VigilCore
import VigilSources

/// Every camera of the server, by id, in config order.
public final class CameraRegistry: Sendable {
    public let cameras: [Camera]
    private let byID: [String: Camera]
    public let versions: VersionClock

    public init(config: VigilConfig, store: Store?, logger: Logger) {
        let versions = VersionClock()
        var cameras: [Camera] = []
        for cameraConfig in config.cameras {
            let camera = Camera(
                config: cameraConfig,
                makeSource: SourceFactory.make(for: cameraConfig, logger: logger),
                store: store,
                versions: versions,
                logger: logger
            )
            cameras.append(camera)
        }
        self.cameras = cameras
        self.versions = versions
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
