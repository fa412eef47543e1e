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

/// Still captures: request, follow, download.
struct CaptureRoutes {
    let registry: CameraRegistry
    /// In a cluster: who runs each camera, for capture requests made here.
    let relays: CameraRelays?

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/cameras/:id/captures") { request, context -> Response in
            let camera = try registry.camera(from: context)
            // Another node runs the camera: it takes the still.
            if let redirect = try await ElsewhereRedirect.toOwner(of: camera, relays: relays, for: request) {
                return redirect
            }
            do {
                return try EditedResponse(status: .accepted, response: try await camera.requestCapture().wire)
                    .response(from: request, context: context)
            } catch let error as CaptureError {
                var apiError: APIError
                switch error {
                case .cameraStopped: apiError = APIError(.conflict, error.code, error.message)
                case .queueFull:
                    apiError = APIError(.tooManyRequests, error.code, error.message)
                    apiError.headers[.retryAfter] = "1"
                case .shuttingDown: apiError = APIError(.serviceUnavailable, error.code, error.message)
                case .elsewhere: apiError = APIError(.misdirectedRequest, error.code, error.message)
                case .storageFull(let cause): apiError = APIError.storageFull(cause)
                default: apiError = APIError(.internalServerError, error.code, error.message)
                }
                throw apiError
            }
        }
        router.get("/api/v1/cameras/:id/capture/status") { _, context -> CaptureActivity in
            try await registry.camera(from: context).captureActivity()
        }
        router.get("/api/v1/captures") { request, _ -> [Capture] in
            let camera = try request.cameraFilter()
            let limit = try request.limit(default: 20, range: 1...500)
            return try await store().captures(camera: camera, limit: limit).map(\.wire)
        }
        router.get("/api/v1/captures/:capture") { _, context -> Capture in
            try await record(context).wire
        }
        router.get("/api/v1/captures/:capture/image.jpg") { request, context -> Response in
            let record = try await record(context)
            if let redirect = try await ElsewhereRedirect.forFiles(
                of: record.node, id: record.id, store: try store(), request: request)
            {
                return redirect
            }
            guard record.status == .done, let file = record.file, let dir = registry.capturesDir else {
                throw APIError(
                    .notFound, "no_image",
                    "capture \(record.id) is \(record.status.rawValue)\(record.error.map { ": \($0)" } ?? ""); it has no image"
                )
            }
            // `file` comes from our own row (an id we generated), never from the request.
            guard let data = FileManager.default.contents(atPath: Path.join(dir, file))
            else {
                throw APIError(.notFound, "no_image", "the image of capture \(record.id) is missing from the disk")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/jpeg", .cacheControl: "private, max-age=86400",
                    .contentDisposition: "inline; filename=\"\(record.camera)-\(record.id).jpg\"",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    private func store() throws -> any RecordStore {
        guard let store = registry.store else {
            throw APIError(.serviceUnavailable, "no_store", "captures need a data dir")
        }
        return store
    }

    private func record<Context: RequestContext>(_ context: Context) async throws -> CaptureRecord {
        let id = context.parameters.get("capture") ?? ""
        guard Identifier.isValid(id, .record), let record = try await store().capture(id: id) else {
            throw APIError(.notFound, "unknown_capture", "no capture with id '\(id.prefix(40))'")
        }
        return record
    }
}

extension CameraRegistry {
    /// The camera named by the `id` path parameter, or a 404 `unknown_camera`.
    func camera<Context: RequestContext>(from context: Context) throws -> Camera {
        let id = context.parameters.get("id") ?? ""
        guard Identifier.isValid(id, .camera), let camera = camera(id) else {
            throw APIError.unknownCamera(String(id.prefix(64)))
        }
        return camera
    }
}
