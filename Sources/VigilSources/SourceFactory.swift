import Logging
import VigilCore

/// Builds the source object for one attempt of a camera, from its config.
public enum SourceFactory {
    /// `inbox` is the camera's push inbox (used by `kind: push` only).
    public static func make(for camera: CameraConfig, logger: Logger, inbox: PushInbox = PushInbox())
        -> FrameSourceFactory
    {
        let id = camera.id
        let context = SourceContext(camera: camera, logger: logger)
        switch camera.source {
        case .testPattern(let config):
            return { TestPatternSource(camera: id, config: config) }
        case .exec(let config):
            return { ExecSource(context: context, config: config) }
        case .mjpeg(let config):
            return { MJPEGSource(context: context, config: config) }
        case .websocket(let config):
            return { WebSocketSource(context: context, config: config) }
        case .socketIO(let config):
            return { SocketIOSource(context: context, config: config) }
        case .push:
            return { PushSource(inbox: inbox) }
        }
    }
}
