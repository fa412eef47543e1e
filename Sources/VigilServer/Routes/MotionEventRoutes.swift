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

/// Recorded motion events: list, details, thumbnail, clip.
struct MotionEventRoutes {
    let registry: CameraRegistry
    /// A gap between two recorded frames longer than this is shortened to it
    /// when a clip is replayed at its recorded pace (a camera that went stale).
    static let longestPause = 2.0

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/cameras/:id/motion") { _, context -> MotionStatus in
            let camera = try registry.camera(from: context)
            guard let monitor = registry.monitors.first(where: { $0.camera == camera.id }) else {
                throw APIError(
                    .notFound, "motion_off", "motion detection is off for camera \(camera.id) (motion.enabled)")
            }
            let (stats, config) = (monitor.stats, monitor.config)
            return MotionStatus(
                analysed: stats.analysed, skipped: stats.skipped, lastPercent: stats.lastPercent,
                threshold: config.threshold, inEvent: stats.inEvent, ringFrames: stats.ringFrames,
                ringBytes: stats.ringBytes, ringMaxBytes: config.preCaptureMaxBytes,
                writeQueueBytes: stats.queuedBytes)
        }
        router.get("/api/v1/events") { request, _ -> [MotionEvent] in
            let camera = try request.cameraFilter()
            let limit = try request.limit(default: 50, range: 1...500)
            var since: Double?
            if let raw = request.uri.queryParameters["since"] {
                if let seconds = Double(raw), seconds.isFinite {
                    since = seconds
                } else if let date = ISO8601.date(String(raw)) {
                    since = date.timeIntervalSince1970
                } else {
                    throw APIError(
                        .badRequest, "bad_parameter",
                        "since must be an ISO 8601 time (2026-11-21T10:00:00Z) or seconds since 1970")
                }
            }
            return try await archive().store.motionEvents(camera: camera, since: since, limit: limit).map(\.wire)
        }
        router.get("/api/v1/events/:event") { _, context -> MotionEvent in
            try await record(context).wire
        }
        router.get("/api/v1/events/:event/thumbnail.jpg") { request, context -> Response in
            let record = try await record(context)
            let archive = try archive()
            if let redirect = try await ElsewhereRedirect.forFiles(
                of: record.node, id: record.id, store: archive.store, request: request)
            {
                return redirect
            }
            // File names come from our own rows (ids we generated), never from the request.
            guard let name = record.thumbnail, let data = FileManager.default.contents(atPath: archive.path(name))
            else {
                throw APIError(.notFound, "no_thumbnail", "event \(record.id) has no thumbnail")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/jpeg", .cacheControl: "private, max-age=60",
                    .contentDisposition: "inline; filename=\"\(record.camera)-\(record.id).jpg\"",
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/api/v1/events/:event/clip.mjpg") { request, context -> Response in
            let record = try await record(context)
            let archive = try archive()
            if let redirect = try await ElsewhereRedirect.forFiles(
                of: record.node, id: record.id, store: archive.store, request: request)
            {
                return redirect
            }
            guard let name = record.clip else {
                let why = record.status == .recording ? "is still recording" : "has no frames"
                throw APIError(.notFound, "no_clip", "event \(record.id) \(why)")
            }
            let path = archive.path(name)
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw APIError(.notFound, "no_clip", "the clip of event \(record.id) is missing from the disk")
            }
            let paced: Bool
            switch request.uri.queryParameters["pace"].map(String.init) {
            case nil, "1", "true": paced = true
            case "0", "false": paced = false
            default: throw APIError(.badRequest, "bad_parameter", "pace must be 0 or 1")
            }
            let body = ResponseBody { writer in
                let reader = try ClipReader(path: path)
                try await writer.write(ByteBuffer(bytes: MJPEGPart.preamble))
                var previous: Double?
                var started = ContinuousClock.now
                var elapsed = 0.0
                while let part = try reader.next() {
                    if paced {
                        if let previous {
                            elapsed += min(max(part.timestamp - previous, 0), Self.longestPause)
                            try await Task.sleep(until: started + .milliseconds(Int64(elapsed * 1000)))
                        } else {
                            started = .now
                        }
                        previous = part.timestamp
                    }
                    try await writer.write(part.bytes)
                }
                try await writer.finish(nil)
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: MJPEGPart.contentType, .cacheControl: "private, no-transform",
                    .contentDisposition: "inline; filename=\"\(record.camera)-\(record.id).mjpg\"",
                ],
                body: body)
        }
    }

    private func archive() throws -> MotionArchive {
        guard let archive = registry.archive else {
            throw APIError(.serviceUnavailable, "no_store", "events need a data dir")
        }
        return archive
    }

    private func record<Context: RequestContext>(_ context: Context) async throws -> MotionEventRecord {
        let id = context.parameters.get("event") ?? ""
        guard Identifier.isValid(id, .record), let record = try await archive().store.motionEvent(id: id) else {
            throw APIError(.notFound, "unknown_event", "no event with id '\(id.prefix(40))'")
        }
        return record
    }
}
