import HTTPTypes
import Hummingbird
import NIOCore
import VigilAPI

/// Writes a route's answer as `WireJSON`, never cached: every answer is
/// the server's state at that moment.
struct WireResponseEncoder: ResponseEncoder {
    func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        Self.response(value)
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: WireJSON.text(value))))
    }
}
