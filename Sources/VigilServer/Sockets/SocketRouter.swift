import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import VigilAPI

/// One accepted WebSocket: what the client asked for and its connection.
struct SocketConnection: Sendable {
    /// The request's path and query.
    let uri: URI
    /// Values of the `{name}` segments of the matched route.
    let parameters: [String: String]
    let channel: any Channel
    let inbound: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
}

/// Chooses the handler of a WebSocket upgrade request by its path.
///
/// Why not Hummingbird's `router.ws(...)`: with hummingbird-websocket 2.8 its
/// request context keeps the handler in a box that the context itself holds
/// (`context.webSocket.handler` stores a copy of `context`), a reference
/// cycle that kept every upgraded connection's context, and through it the
/// NIO channel with its buffers, alive forever: about 4-10 KB per socket
/// that ever connected. This router hands each upgrade a closure that
/// captures only the connection's own values; it is released when the socket
/// ends. `SocketLeakTests` guards it.
struct SocketRouter: Sendable {
    typealias Handler = @Sendable (SocketConnection) async -> Void
    typealias Upgrade = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    private struct Route: Sendable {
        let pattern: PathPattern
        let handler: Handler
    }

    private var routes: [Route] = []
    /// Decides whether the request's credentials may open the socket.
    var access: AccessControl?

    /// Adds a route such as `/cameras/{id}/live`.
    mutating func add(_ path: String, handler: @escaping Handler) {
        routes.append(Route(pattern: PathPattern(path), handler: handler))
    }

    /// The upgrade answer for a request: the handler of the first route its
    /// path matches, or no upgrade (the client gets 400). A credential that
    /// may not open the socket gets the socket, closed at once with a JSON
    /// error and close code 4401, 4403 or 4429 (the HTTP status plus 4000):
    /// a browser's WebSocket API shows close codes, never an HTTP status.
    func upgrade(_ request: HTTPRequest, channel: any Channel) -> Upgrade {
        let uri = URI(request.path ?? "/")
        if let access {
            let decision = access.decide(request, uri: uri, remote: channel.remoteAddress)
            if let refusal = Self.refusal(decision, access: access) {
                return .upgrade([:]) { _, outbound, _ in
                    try? await outbound.write(.text(WireJSON.text(ServerMessage.error(refusal.error))))
                    try? await outbound.close(
                        WebSocketErrorCode(codeNumber: Int(refusal.closeCode)), reason: refusal.error.code)
                }
            }
        }
        for route in routes {
            guard let parameters = route.pattern.match(uri.path) else { continue }
            let handler = route.handler
            return .upgrade([:]) { inbound, outbound, _ in
                // Frames that came before this are unmasked by the WebSocket
                // layer itself; the rest eight bytes at a time.
                try? await channel.eventLoop.submit { try ClientFrameUnmasker.install(on: channel) }.get()
                await handler(
                    SocketConnection(
                        uri: uri, parameters: parameters, channel: channel, inbound: inbound, outbound: outbound))
            }
        }
        return .dontUpgrade
    }

    /// What a socket refused for its credential is told, and its close code.
    static func refusal(
        _ decision: AccessControl.Decision, access: AccessControl
    ) -> (error: SocketError, closeCode: UInt16)? {
        switch decision {
        case .allowed: return nil
        case .unauthenticated:
            return (
                SocketError(code: "unauthorized", message: "sign in: a Bearer token, ?token= or the page's login"), 4401
            )
        case .forbidden(let identity):
            return (
                SocketError(
                    code: "forbidden",
                    message: "\(identity.name) has the role \(identity.role.rawValue), which may not open this socket"),
                4403
            )
        case .lockedOut:
            return (
                SocketError(
                    code: "locked_out",
                    message:
                        "too many failed sign-ins from this address; try again in \(access.config.lockout.duration)"),
                4429
            )
        }
    }
}
