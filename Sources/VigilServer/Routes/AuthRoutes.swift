import HTTPTypes
import Hummingbird
import VigilAPI

/// The page's login: `POST /api/v1/login` (JSON `{name, password}`) sets the
/// session cookie, `POST /api/v1/logout` clears it, `GET /api/v1/me` says
/// who the request's credential is.
struct AuthRoutes {
    let access: AccessControl
    /// Largest login body.
    static let maxBodyBytes = 4096

    func register(on router: Router<VigilRequestContext>) {
        router.get("/api/v1/me") { _, context -> Identity in
            context.identity ?? AccessControl.anonymous
        }
        router.post("/api/v1/login") { request, context -> Response in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Self.maxBodyBytes)
            } catch {
                throw APIError(.contentTooLarge, "too_large", "a login is at most \(Self.maxBodyBytes) bytes")
            }
            guard let login = try? WireJSON.decode(LoginRequest.self, from: body.readableBytesView) else {
                throw APIError(.badRequest, "bad_request", "send JSON {\"name\": ..., \"password\": ...}")
            }
            switch access.login(name: login.name, password: login.password, remote: context.remoteAddress) {
            case .allowed(let identity):
                var response = WireResponseEncoder.response(identity)
                let secure = request.head.scheme == "https"
                response.headers[.setCookie] = access.sessions.setCookie(for: identity, secure: secure)
                context.logger.info("login: \(identity.name) (\(identity.role.rawValue))")
                return response
            case .lockedOut:
                throw APIError(
                    .tooManyRequests, "locked_out", "too many failed sign-ins from this address; try again later")
            case .unauthenticated, .forbidden:
                throw APIError(.unauthorized, "unauthorized", "wrong name or password")
            }
        }
        router.post("/api/v1/logout") { _, _ -> Response in
            var response = Response(status: .noContent)
            response.headers[.setCookie] = SessionCookie.clearCookie
            return response
        }
    }
}
