import HTTPTypes
import Hummingbird
import VigilAPI

/// Lets a request through only with a credential whose role the route
/// needs (`AccessTable`); the answer says which of 401, 403 or 429 applies.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = VigilRequestContext

    let access: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        switch access.decide(request.head, uri: request.uri, remote: context.remoteAddress) {
        case .allowed(let identity):
            var context = context
            context.identity = identity
            return try await next(request, context)
        case .unauthenticated:
            var error = APIError(
                .unauthorized, "unauthorized",
                "sign in: HTTP Basic, a Bearer token, ?token= or the page's login")
            // The challenge is for clients such as Home Assistant, VLC and
            // ffmpeg; the page's own requests say who they are and are not
            // challenged, or the browser would open its password dialog.
            if request.headers[.xRequestedWith] == nil {
                error.headers[.wwwAuthenticate] = "Basic realm=\"\(AccessControl.realm)\", charset=\"UTF-8\""
            }
            throw error
        case .forbidden(let identity):
            throw APIError(
                .forbidden, "forbidden",
                "\(identity.name) has the role \(identity.role.rawValue), which may not do this")
        case .lockedOut:
            var error = APIError(
                .tooManyRequests, "locked_out",
                "too many failed sign-ins from this address; try again in \(access.config.lockout.duration)")
            error.headers[.retryAfter] = "\(Int(access.config.lockout.duration.seconds))"
            throw error
        }
    }
}

extension HTTPField.Name {
    /// Sent by the web page's requests (`X-Requested-With: vigil-page`).
    static let xRequestedWith = Self("X-Requested-With")!
}
