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

/// `GET /api/v1/sessions`, `GET /api/v1/sessions/{id}`.
struct SessionRoutes {
    let store: any RecordStore

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/sessions") { request, _ -> [Session] in
            let limit = try request.limit(default: 50, range: 1...1000)
            return try await store.sessions(limit: limit).map(\.wire)
        }
        router.get("/api/v1/sessions/:session") { _, context -> Session in
            let id = context.parameters.get("session") ?? ""
            guard Identifier.isValid(id, .record), let record = try await store.session(id: id) else {
                throw APIError(.notFound, "unknown_session", "no session '\(id.prefix(40))'")
            }
            return record.wire
        }
    }
}
