import Hummingbird

/// A request's path and query: at most `maxBytes` (414 beyond), before
/// anything reads them. Every id in a path is far shorter; a longer target
/// is a mistake or an attack.
struct RequestTargetLimit: RouterMiddleware {
    typealias Context = VigilRequestContext

    static let maxBytes = 2048

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard (request.head.path?.utf8.count ?? 0) <= Self.maxBytes else {
            throw APIError(.uriTooLong, "uri_too_long", "a request's path and query are at most \(Self.maxBytes) bytes")
        }
        return try await next(request, context)
    }
}
