import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import VigilAPI
import VigilCore

/// Serves `GET /cameras/{id}/stream.mjpg` directly on the connection's event
/// loop, in front of the router.
///
/// Fan-out through one task per viewer costs a task hop and an async writer
/// per frame and viewer; here the camera's frame reaches every viewer of an
/// event loop in one `execute` (`ViewerFanout`), and its `FrameDelivery`
/// writes the shared pre-built part. Requests it does not take (other paths,
/// unknown cameras, bad parameters, too many viewers) pass on to the router,
/// which answers them, errors included.
final class MJPEGStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the handler needs from the server.
    struct Environment: Sendable {
        var hub: @Sendable (String) -> FrameHub?
        var maxFrameAge: @Sendable (String) -> Duration
        var maxClientsPerCamera: Int
        var fanouts: ViewerFanouts
        /// A request without the right credential is left to the router,
        /// which answers 401, 403 or 429.
        var access: AccessControl
        var logger: Logger
        var stallTimeout: Duration = .seconds(30)
    }

    private enum Mode {
        case passthrough
        case streaming
        case closed
    }

    private let environment: Environment
    private var mode = Mode.passthrough
    private var delivery: FrameDelivery?
    private var fanout: ViewerFanout?
    private var camera = ""

    /// Status line, headers and the first boundary of every stream response.
    static let responseHead = ByteBuffer(
        string: "HTTP/1.1 200 OK\r\n"
            + "Content-Type: \(MJPEGPart.contentType)\r\n"
            + "Cache-Control: no-cache, no-store, must-revalidate\r\n"
            + "Pragma: no-cache\r\n"
            + "X-Accel-Buffering: no\r\n"
            + "Connection: close\r\n"
            + "\r\n"
            + String(decoding: MJPEGPart.preamble, as: UTF8.self))

    init(environment: Environment) {
        self.environment = environment
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch mode {
        case .passthrough:
            let part = unwrapInboundIn(data)
            if case .head(let head) = part,
                environment.access.decide(
                    head, uri: URI(head.path ?? "/"), remote: context.channel.remoteAddress, counting: false
                ).isAllowed,
                let request = streamRequest(head)
            {
                startStreaming(context: context, camera: request.camera, fps: request.fps)
            } else {
                context.fireChannelRead(data)
            }
        case .streaming, .closed:
            break  // The rest of a streaming request (and anything after it) is ignored.
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopStreaming()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopStreaming()
    }

    private struct StreamRequest {
        var camera: String
        var fps: Double?
    }

    /// The stream this request asks for, if the handler should serve it.
    private func streamRequest(_ request: HTTPRequest) -> StreamRequest? {
        guard request.method == .get, let target = request.path else { return nil }
        let pathAndQuery = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let components = pathAndQuery[0].split(separator: "/", omittingEmptySubsequences: false)
        guard components.count == 4, components[0].isEmpty, components[1] == "cameras",
            components[3] == "stream.mjpg"
        else { return nil }
        let camera = String(components[2])
        guard Identifier.isValid(camera, .camera), let hub = environment.hub(camera) else { return nil }
        var fps: Double?
        if pathAndQuery.count == 2 {
            for item in pathAndQuery[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0] == "fps" else { continue }
                guard let value = Double(pair[1]), value > 0, value <= 120 else { return nil }
                fps = value
            }
        }
        guard hub.viewerCount < environment.maxClientsPerCamera else { return nil }
        return StreamRequest(camera: camera, fps: fps)
    }

    // MARK: Streaming

    private func startStreaming(context: ChannelHandlerContext, camera: String, fps: Double?) {
        guard let hub = environment.hub(camera) else { return }
        mode = .streaming
        self.camera = camera
        // From here on the connection is a stream, not an idle keep-alive
        // connection: Hummingbird's idle timer must not close it. Stalled and
        // departed viewers are handled by the delivery instead.
        if let state = try? context.pipeline.syncOperations.handler(type: HTTPConnectionStateHandler.self) {
            context.pipeline.syncOperations.removeHandler(state, promise: nil)
        }
        // The response is written as raw bytes below the HTTP codec: with
        // `Connection: close` and no length the body is simply the multipart
        // stream (valid for HTTP/1.0 and 1.1 clients), so each frame is one
        // write of the shared part buffer, with no per-viewer encoding.
        let frameBytes = hub.latest?.mjpegPart.readableBytes ?? 128 * 1024
        guard let writer = try? RawStreamWriter.install(on: context.channel, frameBytes: frameBytes) else {
            context.close(promise: nil)
            return
        }
        writer.writeAndFlush(Self.responseHead, promise: nil)
        var logger = environment.logger
        logger[metadataKey: "camera"] = "\(camera)"
        let delivery = FrameDelivery(
            channel: context.channel, writer: writer,
            options: .init(
                kind: .mjpeg, showsPlaceholders: true, stallTimeout: environment.stallTimeout,
                minInterval: fps.map { .nanoseconds(Int64(1_000_000_000 / $0)) }),
            traffic: [camera: hub.traffic], logger: logger
        ) { outgoing in (outgoing.frame.mjpegPart, nil) }
        let fanout = environment.fanouts.fanout(for: hub, on: context.eventLoop)
        guard fanout.add(delivery) else {
            mode = .closed
            context.close(promise: nil)
            return
        }
        self.delivery = delivery
        self.fanout = fanout
        logger.debug("mjpeg viewer connected", metadata: ["remote": "\(context.remoteAddress?.description ?? "?")"])
        if let greeting = hub.greeting(maxAge: environment.maxFrameAge(camera)) {
            delivery.offer(OutgoingFrame(greeting))
        }
    }

    private func stopStreaming() {
        guard mode == .streaming else { return }
        mode = .closed
        guard let delivery else { return }
        delivery.stop()
        fanout?.remove(delivery)
        fanout = nil
        self.delivery = nil
        environment.logger.debug(
            "mjpeg viewer left",
            metadata: ["camera": "\(camera)", "sent": "\(delivery.sent)", "dropped": "\(delivery.dropped)"])
    }
}
