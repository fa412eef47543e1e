/// The whole configuration of a Vigil server (`vigil.yml`).
public struct VigilConfig: Sendable, Equatable {
    public var server: ServerConfig
    /// Cameras in the order the file lists them.
    public var cameras: [CameraConfig]
    public var ingest = IngestConfig()
    public var events = MotionEventsConfig()
    /// `auth:`; nil when the file has none (then the bind address decides:
    /// open on loopback, a generated admin token anywhere else).
    public var auth: AuthConfig?
    /// Where to publish state and events (none without an `mqtt:` section).
    public var mqtt: MQTTConfig?
    /// `store:`; SQLite in the data dir unless it says otherwise.
    public var store: StoreConfig = .sqlite
    /// `cluster:`; nil for a node on its own.
    public var cluster: ClusterConfig?
    /// `relay_of: URL`: an edge relay with no cameras of its own, serving the
    /// cameras of the node at URL to viewers here.
    public var relayOf: String?

    /// Whether cameras may run elsewhere (a cluster, an edge relay): then
    /// none runs here until this node is told it should.
    public var camerasRunElsewhere: Bool { cluster != nil || relayOf != nil }

    public init(server: ServerConfig = .init(), cameras: [CameraConfig]) {
        self.server = server
        self.cameras = cameras
    }

    /// The configuration used when there is no config file: one camera `demo`
    /// showing the built-in test pattern.
    public static var demo: VigilConfig {
        VigilConfig(cameras: [CameraConfig(id: "demo", source: .testPattern(.init()))])
    }
}

/// The `server:` section.
public struct ServerConfig: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var dataDir: String = "./vigil-data"
    /// Viewers (MJPEG streams) allowed per camera.
    public var maxClientsPerCamera: Int = 256
    /// An idle keep-alive connection (no request in progress) is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// Open connections from one client address; more are closed at once.
    public var maxConnectionsPerAddress: Int = 128
    /// `tls: {cert, key}`: PEM files; the server then speaks HTTPS and WSS only.
    public var tls: TLSFiles?

    public init() {}
}

/// A certificate chain and its private key, PEM files.
public struct TLSFiles: Sendable, Equatable {
    public var cert: String
    public var key: String

    public init(cert: String, key: String) {
        self.cert = cert
        self.key = key
    }
}

/// One camera under `cameras:`.
public struct CameraConfig: Sendable, Equatable {
    public var id: String
    public var source: SourceConfig
    /// No frame for this long makes the camera stale and its source is replaced.
    public var staleAfter: Duration = .seconds(5)
    /// Snapshots and saves never use a frame older than this.
    public var maxFrameAge: Duration = .seconds(2)
    /// Frames larger than this are dropped.
    public var maxFrameBytes: Int = 8 * 1024 * 1024
    public var restart: RestartPolicy = .init()
    public var capture: CaptureConfig = .init()
    public var motion: MotionConfig = .init()
    /// In a cluster: the node that runs this camera whenever it is alive.
    public var prefer: String?

    public init(id: String, source: SourceConfig) {
        self.id = id
        self.source = source
    }
}

/// Where a camera's frames come from.
public enum SourceConfig: Sendable, Equatable {
    case testPattern(TestPatternConfig)
    case exec(ExecConfig)
    case mjpeg(MJPEGConfig)
    case websocket(WebSocketSourceConfig)
    case socketIO(SocketIOConfig)
    case push

    /// The `kind` name used in the config file.
    public var kind: String {
        switch self {
        case .testPattern: return "testpattern"
        case .exec: return "exec"
        case .mjpeg: return "mjpeg"
        case .websocket: return "websocket"
        case .socketIO: return "socketio"
        case .push: return "push"
        }
    }

    public static let kinds = ["testpattern", "exec", "mjpeg", "websocket", "socketio", "push"]
}

/// `kind: websocket`: a WebSocket sending one JPEG per binary message.
public struct WebSocketSourceConfig: Sendable, Equatable {
    /// `ws://` or `wss://` URL, e.g. another Vigil's `/cameras/{id}/live`.
    public var url: String

    public init(url: String) {
        self.url = url
    }
}

/// `kind: mjpeg`: an HTTP `multipart/x-mixed-replace` stream.
public struct MJPEGConfig: Sendable, Equatable {
    /// `http://host[:port]/path`; credentials may also be given in the URL.
    public var url: String
    public var username: String?
    public var password: String?
    /// Giving up on a connection attempt after this long.
    public var connectTimeout: Duration = .seconds(5)
    /// Sent as `Authorization: Bearer` (a relay from another Vigil node)
    /// instead of Basic credentials.
    public var bearerToken: String?

    public init(url: String) {
        self.url = url
    }
}

/// `kind: testpattern`.
public struct TestPatternConfig: Sendable, Equatable {
    public var width = 1280
    public var height = 720
    public var fps = 15.0
    public var quality = 80

    public init() {}
}

/// `kind: exec`: a command writing MJPEG to stdout.
public struct ExecConfig: Sendable, Equatable {
    /// argv; the first element is looked up in PATH unless it contains a slash.
    public var command: [String]
    /// Time between SIGTERM and SIGKILL when the command is stopped.
    public var stopGrace: Duration = .seconds(2)

    public init(command: [String]) {
        self.command = command
    }
}

/// How a failed source is restarted: exponential backoff with full jitter,
/// no attempt limit.
/// Upload sessions over `WS /api/v1/ingest` (`ingest:`).
public struct IngestConfig: Sendable, Equatable {
    /// Largest frame accepted; larger ones get `frame_too_large`.
    public var maxFrameBytes = 8 * 1024 * 1024
    /// Largest session; a session reaching it is ended with `session_too_large`.
    public var maxSessionBytes: Int64 = 8 * 1024 * 1024 * 1024
    /// Sessions receiving at once; one more is refused with `too_many_sessions`.
    public var maxSessions = 20
    /// Largest attachment (decoded).
    public var maxAttachmentBytes = 4 * 1024 * 1024
    /// Frames between two acks; each ack follows an fsync (acked = durable).
    public var ackEvery = 50
    /// A socket silent for this long is closed (the session stays resumable).
    public var idleTimeout: Duration = .seconds(60)
    /// How long an interrupted session can be resumed before it is deleted.
    public var resumeWindow: Duration = .seconds(600)
    /// argv with `{session_dir}`, run after `session_end`.
    public var processCommand: [String]?
    public var processTimeout: Duration = .seconds(600)

    public init() {}
}

/// How a camera takes a still (`capture:`).
public struct CaptureConfig: Sendable, Equatable {
    /// argv with `{output}` where the image is to be written; nil stores the
    /// current fresh live frame instead.
    public var command: [String]?
    /// Stop the live source while the command runs (a DSLR cannot do both),
    /// and start a fresh one after.
    public var pauseLive = false
    /// A capture still running after this fails, and live view resumes.
    public var timeout: Duration = .seconds(30)
    /// Captures waiting to run, at most; more are refused.
    public var queue = 4

    public init() {}
}

public struct RestartPolicy: Sendable, Equatable {
    /// First delay ceiling.
    public var initialBackoff: Duration = .milliseconds(250)
    /// Largest delay ceiling.
    public var maxBackoff: Duration = .seconds(10)
    /// A source that delivered frames this long resets the backoff.
    public var stableAfter: Duration = .seconds(10)

    public init() {}
}
