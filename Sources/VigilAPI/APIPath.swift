/// The paths of the HTTP API and its sockets, for clients and for the
/// links records carry. The server's router spells the same paths as
/// patterns (`VigilServer/Routes`).
public enum APIPath {
    public static let cameras = "/api/v1/cameras"
    public static let captures = "/api/v1/captures"
    public static let motionEvents = "/api/v1/events"
    public static let sessions = "/api/v1/sessions"
    /// WebSockets.
    public static let eventsSocket = "/api/v1/events"
    public static let liveSocket = "/api/v1/live"
    public static let ingestSocket = "/api/v1/ingest"

    public static func camera(_ id: String) -> String { "\(cameras)/\(id)" }
    public static func start(_ camera: String) -> String { "\(cameras)/\(camera)/start" }
    public static func stop(_ camera: String) -> String { "\(cameras)/\(camera)/stop" }
    public static func frames(_ camera: String) -> String { "\(cameras)/\(camera)/frames" }
    public static func requestCapture(_ camera: String) -> String { "\(cameras)/\(camera)/captures" }
    public static func captureStatus(_ camera: String) -> String { "\(cameras)/\(camera)/capture/status" }
    public static func motionStatus(_ camera: String) -> String { "\(cameras)/\(camera)/motion" }
    public static func capture(_ id: String) -> String { "\(captures)/\(id)" }
    public static func captureImage(_ id: String) -> String { "\(captures)/\(id)/image.jpg" }
    public static func motionEvent(_ id: String) -> String { "\(motionEvents)/\(id)" }
    public static func motionEventThumbnail(_ id: String) -> String { "\(motionEvents)/\(id)/thumbnail.jpg" }
    public static func motionEventClip(_ id: String) -> String { "\(motionEvents)/\(id)/clip.mjpg" }
    public static func session(_ id: String) -> String { "\(sessions)/\(id)" }
    public static func stream(_ camera: String) -> String { "/cameras/\(camera)/stream.mjpg" }
    public static func snapshot(_ camera: String) -> String { "/cameras/\(camera)/snapshot.jpg" }
    public static func cameraLiveSocket(_ camera: String) -> String { "/cameras/\(camera)/live" }
}
