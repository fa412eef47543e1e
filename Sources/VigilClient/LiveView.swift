import NIOCore
import VigilAPI

/// A camera's live frames and states, for as long as they are read.
///
/// ```swift
/// let vigil = try VigilClient(url: "http://127.0.0.1:8080")
/// for await event in LiveView(client: vigil, camera: "porch") {
///     if case .frame(let frame) = event { detect(frame.jpeg) }
/// }
/// ```
///
/// It reads `/cameras/{id}/live` (one camera) or `/api/v1/live` (several)
/// and survives what a long-running consumer meets: a server restart (it
/// reconnects, with a capped, jittered backoff and no attempt limit), a
/// capture with `pause_live` (no frames, but the socket stays open: no
/// reconnect storm), and a zombie connection (nothing at all for
/// `silenceLimit`: closed and replaced by a new one, see
/// `ReconnectingSocket`). A consumer slower than the camera gets the newest
/// frame, never a backlog: one frame waits per camera, and one state.
public struct LiveView: AsyncSequence, Sendable {
    public typealias Element = LiveEvent

    public let client: VigilClient
    /// The cameras this view shows; nil for every camera of the server.
    public let cameras: [String]?
    /// A connection on which nothing arrives this long is replaced.
    public var silenceLimit: Duration = .seconds(10)
    /// Spacing of reconnection attempts.
    public var backoff = Backoff(initial: .milliseconds(250), max: .seconds(10))
    /// Largest message accepted (a frame).
    public var maxFrameBytes = 16 << 20
    private let path: String

    /// One camera, on `/cameras/{id}/live`.
    public init(client: VigilClient, camera: String) {
        self.client = client
        self.cameras = [camera]
        self.path = APIPath.cameraLiveSocket(camera)
    }

    /// Several cameras (every one when `cameras` is nil) on one socket,
    /// `/api/v1/live`.
    public init(client: VigilClient, cameras: [String]?) {
        self.client = client
        self.cameras = cameras
        var path = APIPath.liveSocket
        if let cameras { path += "?cameras=" + cameras.map { VigilClient.percentEncoded($0) }.joined(separator: ",") }
        self.path = path
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(view: self)
    }

    /// Ends the connection when it is dropped or iteration is cancelled.
    public final class Iterator: AsyncIteratorProtocol {
        private let mailbox: LiveMailbox
        private let task: Task<Void, Never>

        init(view: LiveView) {
            let socket = ReconnectingSocket(
                client: view.client, path: view.path, silenceLimit: view.silenceLimit, backoff: view.backoff,
                maxMessageBytes: view.maxFrameBytes + 256)
            let single = view.path.hasPrefix("/cameras/") ? view.cameras?.first : nil
            let mailbox = LiveMailbox()
            self.mailbox = mailbox
            task = Self.start(socket, into: mailbox, camera: single)
        }

        private static func start(
            _ socket: ReconnectingSocket, into mailbox: LiveMailbox, camera: String?
        ) -> Task<Void, Never> {
            Task {
                await socket.run { event in
                    mailbox.put(liveEvent(event, camera: camera))
                    return nil
                }
                mailbox.finish()
            }
        }

        deinit {
            task.cancel()
        }

        /// The next event; nil once the task reading it is cancelled.
        public func next() async -> LiveEvent? {
            await mailbox.next()
        }

        /// What a socket event means to the viewer; nil for what it does not
        /// show (pongs, pings, messages of other kinds).
        private static func liveEvent(_ event: ReconnectingSocket.Event, camera: String?) -> LiveEvent? {
            switch event {
            case .connected(let attempt):
                return .connected(attempt: attempt)
            case .disconnected(let reason, let retryIn):
                return .disconnected(reason: reason, retryIn: retryIn)
            case .message(.text(let text)):
                guard case .state(_, let state)? = try? WireJSON.decode(ServerMessage.self, from: text) else {
                    return nil
                }
                return .state(state)
            case .message(.binary(var buffer)):
                if let camera {
                    return .frame(LiveFrame(camera: camera, jpeg: buffer))
                }
                // `/api/v1/live`: one byte N, N bytes of camera id, the JPEG.
                guard let length = buffer.readInteger(as: UInt8.self),
                    let id = buffer.readString(length: Int(length))
                else { return nil }
                return .frame(LiveFrame(camera: id, jpeg: buffer.slice()))
            }
        }
    }
}

/// What a `LiveView` yields.
public enum LiveEvent: Sendable {
    case frame(LiveFrame)
    /// The camera's state: on connect and on every change.
    case state(CameraState)
    /// The socket is open; attempt 1 is the first.
    case connected(attempt: Int)
    /// The socket ended (server gone, zombie, refused); the next attempt
    /// starts in `retryIn`.
    case disconnected(reason: String, retryIn: Duration)
}

/// One live JPEG.
public struct LiveFrame: Sendable {
    public let camera: String
    public let jpeg: ByteBuffer
    /// When it arrived here. The server sends a frame as soon as it has it
    /// and never queues more than one per viewer, so on a LAN this is within
    /// milliseconds of when the camera made it.
    public let receivedAt: ContinuousClock.Instant

    public init(camera: String, jpeg: ByteBuffer, receivedAt: ContinuousClock.Instant = .now) {
        self.camera = camera
        self.jpeg = jpeg
        self.receivedAt = receivedAt
    }

    /// How old the frame is now.
    public var age: Duration { .now - receivedAt }
}
