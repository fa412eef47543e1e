import Hummingbird

/// On an edge relay, the API requests that belong to the origin (camera
/// control, captures, recorded events, upload sessions) are redirected
/// there (`307`); the edge answers the rest itself: camera states (mirrored),
/// streams and snapshots (relayed), the page, health and metrics.
struct EdgeForwarding: RouterMiddleware {
    typealias Context = VigilRequestContext

    let origin: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard Self.belongsToOrigin(request.uri.path) else { return try await next(request, context) }
        return ElsewhereRedirect.response(to: origin, for: request)
    }

    static func belongsToOrigin(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard parts.count >= 3, parts[0] == "api", parts[1] == "v1" else { return false }
        switch parts[2] {
        case "captures", "events", "sessions": return true
        // `/api/v1/cameras` and `/api/v1/cameras/ID` are the mirrored states.
        case "cameras": return parts.count >= 5
        default: return false
        }
    }
}
