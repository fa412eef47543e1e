import HTTPTypes
import Hummingbird
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// An error answered as JSON `{"error": CODE, "message": TEXT}` (`ErrorBody`).
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 507: the data directory is full (`StorageFull`).
    static func storageFull(_ cause: String) -> APIError {
        APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "storage_full", StorageFull.message(cause))
    }

    static func unknownCamera(_ id: String) -> APIError {
        APIError(.notFound, "unknown_camera", "no camera named '\(id)'")
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        var response = WireResponseEncoder.response(ErrorBody(error: code, message: message), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Turns every error a handler throws into a JSON error response; nothing a
/// request does can take the server down.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "too_large"
            case .badRequest: code = "bad_request"
            default: code = "http_\(error.status.code)"
            }
            let message =
                error.body
                ?? (error.status == .notFound ? "no such path: \(request.uri.path)" : error.status.reasonPhrase)
            return APIError(error.status, code, message).response()
        } catch is CancellationError {
            throw CancellationError()
        } catch let error where StorageFull.isCause(of: error) {
            context.logger.error("request failed, the data directory is full: \(error)")
            return APIError.storageFull("\(error)").response()
        } catch {
            context.logger.error("request failed: \(error)")
            return APIError(.internalServerError, "internal", "internal error").response()
        }
    }
}
