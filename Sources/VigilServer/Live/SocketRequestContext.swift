import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Request context of the WebSocket router: Hummingbird's basic one plus the
/// connection's channel, which the live sockets tune (send buffer) and close
/// when the client stalls.
struct SocketRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<SocketRequestContext>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }
}
