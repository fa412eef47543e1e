import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore

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
        /// Path segments; a segment `{name}` matches any one segment.
        let segments: [String]
        let handler: Handler
    }

    private var routes: [Route] = []

    /// Adds a route such as `/cameras/{id}/live`.
    mutating func add(_ path: String, handler: @escaping Handler) {
        routes.append(Route(segments: path.split(separator: "/").map(String.init), handler: handler))
    }

    /// The upgrade answer for a request: the handler of the first route its
    /// path matches, or no upgrade (the client gets 400 and the connection
    /// closes).
    func upgrade(_ request: HTTPRequest, channel: any Channel) -> Upgrade {
        let uri = URI(request.path ?? "/")
        let segments = uri.path.split(separator: "/", omittingEmptySubsequences: true)
        for route in routes {
            guard let parameters = Self.match(route.segments, segments) else { continue }
            let handler = route.handler
            return .upgrade([:]) { inbound, outbound, _ in
                await handler(
                    SocketConnection(
                        uri: uri, parameters: parameters, channel: channel, inbound: inbound, outbound: outbound))
            }
        }
        return .dontUpgrade
    }

    private static func match(_ pattern: [String], _ segments: [Substring]) -> [String: String]? {
        guard pattern.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (expected, actual) in zip(pattern, segments) {
            if expected.hasPrefix("{") && expected.hasSuffix("}") {
                parameters[String(expected.dropFirst().dropLast())] = String(actual)
            } else if expected != actual {
                return nil
            }
        }
        return parameters
    }
}
