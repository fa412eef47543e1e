/// `kind: socketio`: a Socket.IO v5 server (Engine.IO v4, WebSocket
/// transport) that emits one JPEG per event.
public struct SocketIOConfig: Sendable, Equatable {
    /// Where the JPEG is in each event.
    public enum Payload: Sendable, Equatable {
        /// The event's first argument is a binary attachment (the default).
        case binary
        /// A base64 string at this path of the first argument, e.g. `data.image`.
        case base64(path: [String])
    }

    /// The server, `http://host:port` or `https://…`; Engine.IO is asked at
    /// `/socket.io/` on it.
    public var url: String
    /// The namespace to connect, `/` by default.
    public var namespace = "/"
    /// The event that carries frames.
    public var event = "frame"
    /// JSON object sent with the namespace connect (`40{…}`), e.g. a token.
    public var auth: String?
    public var payload: Payload = .binary

    public init(url: String) {
        self.url = url
    }
}
