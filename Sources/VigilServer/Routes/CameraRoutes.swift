import HTTPTypes
import Hummingbird
import NIOCore
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

/// The camera routes of API v1, the snapshot and the stream's error answers.
struct CameraRoutes {
    let registry: CameraRegistry
    /// In a cluster: snapshots of cameras another node runs come through these.
    let relays: CameraRelays?
    let maxClientsPerCamera: Int

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/cameras") { _, _ in
            await registry.states()
        }
        router.get("/api/v1/cameras/:id") { _, context in
            try await camera(context).state()
        }
        router.post("/api/v1/cameras/:id/start") { _, context in
            try await changeDesired(context) { try await $0.start() }
        }
        router.post("/api/v1/cameras/:id/stop") { _, context in
            try await changeDesired(context) { try await $0.stop() }
        }
        router.post("/api/v1/cameras/:id/frames") { request, context -> Response in
            let camera = try camera(context)
            // Another node runs the camera: frames go there (307 keeps the body).
            if let redirect = try await ElsewhereRedirect.toOwner(of: camera, relays: relays, for: request) {
                return redirect
            }
            guard let inbox = registry.inboxes[camera.id] else {
                throw APIError(
                    .conflict, "not_push_camera",
                    "camera '\(camera.id)' reads from its \(camera.config.source.kind) source; frames can be pushed only to a push camera"
                )
            }
            let limit = camera.config.maxFrameBytes
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch {
                throw APIError(.contentTooLarge, "too_large", "a frame may be at most \(limit) bytes")
            }
            guard let jpeg = JPEGFrameParser.single(body, maxFrameBytes: limit) else {
                throw APIError(
                    .badRequest, "invalid_jpeg", "the body must be exactly one complete JPEG (SOI to EOI)")
            }
            guard let frame = inbox.deliver(jpeg) else {
                throw APIError(.conflict, "not_running", "camera '\(camera.id)' is stopped")
            }
            return try PushedFrame(
                seq: frame.seq, width: frame.width, height: frame.height, bytes: frame.jpeg.readableBytes
            ).response(from: request, context: context)
        }
        router.get("/cameras/:id/snapshot.jpg") { request, context in
            let camera = try camera(context)
            var maxAge = camera.config.maxFrameAge
            if let raw = request.uri.queryParameters["max_age_ms"] {
                guard let ms = Int(raw), ms >= 0, ms <= 86_400_000 else {
                    throw APIError(
                        .badRequest, "bad_parameter", "max_age_ms must be a whole number of milliseconds (0...86400000)"
                    )
                }
                maxAge = .milliseconds(ms)
            }
            var fresh = camera.hub.latest(maxAge: maxAge)
            if fresh == nil, let relay = relays?.relay(of: camera.id), await !camera.isHeldHere {
                // Another node runs the camera: the relay fetches a frame.
                relay.poke()
                fresh = await Camera.waitForFreshFrame(hub: camera.hub, maxAge: maxAge, timeout: .seconds(5))
            }
            guard let frame = fresh else {
                let last = camera.hub.latest.map { "last frame \(Int($0.age.seconds * 1000)) ms ago" } ?? "no frame yet"
                var error = APIError(
                    .serviceUnavailable, "stale",
                    "no frame younger than \(Int(maxAge.seconds * 1000)) ms (\(last))")
                error.headers[.retryAfter] = "1"
                throw error
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/jpeg",
                    .cacheControl: "no-store",
                    HTTPField.Name("X-Frame-Seq")!: "\(frame.seq)",
                    HTTPField.Name("X-Frame-Age-Ms")!: "\(Int(frame.age.seconds * 1000))",
                ],
                body: .init(byteBuffer: frame.jpeg))
        }
        // The stream itself is served by MJPEGStreamHandler; requests reach
        // this route only when that handler declined them.
        router.get("/cameras/:id/stream.mjpg") { request, context -> Response in
            let camera = try camera(context)
            if let raw = request.uri.queryParameters["fps"] {
                guard let fps = Double(raw), fps > 0, fps <= 120 else {
                    throw APIError(.badRequest, "bad_parameter", "fps must be a number in (0, 120]")
                }
            }
            if camera.hub.viewerCount >= maxClientsPerCamera {
                var error = APIError(
                    .serviceUnavailable, "too_many_clients",
                    "camera '\(camera.id)' already has \(maxClientsPerCamera) viewers")
                error.headers[.retryAfter] = "5"
                throw error
            }
            throw APIError(.serviceUnavailable, "unavailable", "the stream of camera '\(camera.id)' is shutting down")
        }
    }

    /// Runs a start or stop and answers the new state.
    private func changeDesired<Context: RequestContext>(
        _ context: Context, _ change: (Camera) async throws -> CameraState
    ) async throws -> CameraState {
        let camera = try camera(context)
        do {
            return try await change(camera)
        } catch {
            throw APIError(.internalServerError, "store_failed", "could not save the desired state: \(error)")
        }
    }

    private func camera<Context: RequestContext>(_ context: Context) throws -> Camera {
        try registry.camera(from: context)
    }
}
