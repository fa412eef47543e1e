import Logging
import VigilCore

/// Builds the source object for one attempt of a camera, from its config.
public enum SourceFactory {
    /// `inbox` is the camera's push inbox (used by `kind: push` only).
    public static func make(for camera: CameraConfig, logger: Logger, inbox: PushInbox = PushInbox())
        -> FrameSourceFactory
    {
        let id = camera.id
        let maxFrameBytes = camera.maxFrameBytes
        switch camera.source {
        case .testPattern(let config):
            return { TestPatternSource(camera: id, config: config) }
        case .exec(let config):
            return { ExecSource(camera: id, config: config, maxFrameBytes: maxFrameBytes, logger: logger) }
        case .mjpeg(let config):
            return { MJPEGSource(camera: id, config: config, maxFrameBytes: maxFrameBytes, logger: logger) }
        case .websocket(let config):
            return { WebSocketSource(camera: id, config: config, maxFrameBytes: maxFrameBytes, logger: logger) }
        case .push:
            return { PushSource(inbox: inbox) }
        }
    }
}
