import HTTPTypes
import Hummingbird
import VigilCore

/// In a cluster, what only another node has (a file it recorded, a camera
/// it runs) is answered with a `307` to that node: same method, same path
/// and query, so a client that follows redirects gets its answer there.
enum ElsewhereRedirect {
    static func response(to base: String, for request: Request) -> Response {
        var target = base + request.uri.path
        if let query = request.uri.query, !query.isEmpty { target += "?" + query }
        return Response(status: .temporaryRedirect, headers: [.location: target, .cacheControl: "no-store"])
    }

    /// In a cluster, for what only the node running `camera` can do (a
    /// capture, a pushed frame): a redirect there, nil when it runs here or
    /// there is no cluster, and a 503 while no node is known to run it.
    static func toOwner(of camera: Camera, relays: CameraRelays?, for request: Request) async throws -> Response? {
        guard let relays, await !camera.isHeldHere else { return nil }
        guard let owner = relays.directory.upstream(of: camera.id) else {
            var error = APIError(
                .serviceUnavailable, "camera_elsewhere",
                "no node is known to run camera '\(camera.id)' right now (it may be moving); try again in a moment")
            error.headers[.retryAfter] = "1"
            throw error
        }
        return response(to: owner, for: request)
    }

    /// The redirect for a record whose files are on another node, or nil
    /// when they are here. Throws when that node is unknown.
    static func forFiles(
        of node: String?, id: String, store: any RecordStore, request: Request
    ) async throws -> Response? {
        guard let node, node != store.node else { return nil }
        guard let base = try await store.address(of: node) else {
            throw APIError(.notFound, "file_elsewhere", "\(id)'s files are on node \(node), whose address is unknown")
        }
        return response(to: base, for: request)
    }
}
