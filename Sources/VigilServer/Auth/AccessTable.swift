import HTTPTypes
import VigilAPI

/// Who may use each route and socket: the one table. Routes not listed need
/// the viewer role (an unknown path answers 401 before it answers 404, so a
/// scan learns nothing without credentials).
enum AccessTable {
    struct Rule: Sendable {
        /// The HTTP method; nil for a WebSocket.
        let method: HTTPRequest.Method?
        let pattern: PathPattern
        /// The least role; nil for a public route.
        let role: Role?
    }

    static let rules: [Rule] = [
        // Public: the page itself (it asks for a login), health, login.
        http(.get, "/", nil),
        http(.get, "/app.js", nil),
        http(.get, "/style.css", nil),
        http(.get, "/healthz", nil),
        http(.post, "/api/v1/login", nil),
        http(.post, "/api/v1/logout", nil),
        // Watching.
        http(.get, "/api/v1/me", .viewer),
        http(.get, "/readyz", .viewer),
        http(.get, "/api/v1/mqtt", .viewer),
        http(.get, "/metrics", .metrics),
        http(.get, "/api/v1/cameras", .viewer),
        http(.get, "/api/v1/cameras/{id}", .viewer),
        http(.get, "/cameras/{id}/stream.mjpg", .viewer),
        http(.get, "/cameras/{id}/snapshot.jpg", .viewer),
        http(.get, "/api/v1/cameras/{id}/capture/status", .viewer),
        http(.get, "/api/v1/cameras/{id}/motion", .viewer),
        http(.get, "/api/v1/captures", .viewer),
        http(.get, "/api/v1/captures/{id}", .viewer),
        http(.get, "/api/v1/captures/{id}/image.jpg", .viewer),
        http(.get, "/api/v1/events", .viewer),
        http(.get, "/api/v1/events/{id}", .viewer),
        http(.get, "/api/v1/events/{id}/thumbnail.jpg", .viewer),
        http(.get, "/api/v1/events/{id}/clip.mjpg", .viewer),
        http(.get, "/api/v1/sessions", .viewer),
        http(.get, "/api/v1/sessions/{id}", .viewer),
        socket("/cameras/{id}/live", .viewer),
        socket("/api/v1/live", .viewer),
        socket("/api/v1/events", .viewer),
        // Operating.
        http(.post, "/api/v1/cameras/{id}/start", .operator),
        http(.post, "/api/v1/cameras/{id}/stop", .operator),
        http(.post, "/api/v1/cameras/{id}/captures", .operator),
        // Feeding.
        http(.post, "/api/v1/cameras/{id}/frames", .admin),
        socket("/api/v1/ingest", .admin),
    ]

    /// The role `method path` needs; nil when it is public.
    static func role(method: HTTPRequest.Method?, path: some StringProtocol) -> Role? {
        for rule in rules where rule.method == method && rule.pattern.match(path) != nil {
            return rule.role
        }
        return .viewer
    }

    private static func http(_ method: HTTPRequest.Method, _ path: String, _ role: Role?) -> Rule {
        Rule(method: method, pattern: PathPattern(path), role: role)
    }

    private static func socket(_ path: String, _ role: Role) -> Rule {
        Rule(method: nil, pattern: PathPattern(path), role: role)
    }
}
