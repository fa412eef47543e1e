import Hummingbird
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `GET /api/v1/sessions`, `GET /api/v1/sessions/{id}`.
struct SessionRoutes {
    let store: Store

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/sessions") { request, _ -> Response in
            let limit = try request.limit(default: 50, range: 1...1000)
            return Self.json(try store.sessions(limit: limit).map(\.json))
        }
        router.get("/api/v1/sessions/:session") { _, context -> Response in
            let id = context.parameters.get("session") ?? ""
            guard SessionRecord.isValidID(id), let record = try store.session(id: id) else {
                throw APIError(.notFound, "unknown_session", "no session '\(id.prefix(40))'")
            }
            return Self.json(record.json)
        }
    }

    static func json(_ object: Any) -> Response {
        let data = JSONText.data(object) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
