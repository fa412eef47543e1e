import Logging
import VigilCore

/// What every source needs besides its own config: whose frames it reads,
/// how large a frame may be, and a logger tagged with the camera.
public struct SourceContext: Sendable {
    public let camera: String
    public let maxFrameBytes: Int
    public let logger: Logger

    public init(camera: CameraConfig, logger: Logger) {
        self.camera = camera.id
        self.maxFrameBytes = camera.maxFrameBytes
        var logger = logger
        logger[metadataKey: "camera"] = "\(camera.id)"
        self.logger = logger
    }
}
