import Logging
import NIOCore
import VigilCore

/// The frame side of one live WebSocket: its `FrameDelivery`, registered with
/// the fan-out of each of its cameras on the socket's event loop.
///
/// Created on that loop; everything it holds is touched only there (hence
/// the unchecked conformance); `detach` hops to it.
final class LiveSocketViewer: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private let delivery: FrameDelivery
    private var fanouts: [ViewerFanout] = []
    private var detached = false
    private let logger: Logger

    /// Joins the cameras' fan-outs and offers each camera's latest frame if
    /// it is fresh. Throws when the raw writer cannot be added (the channel
    /// is closing).
    init(
        cameras: [Camera], channel: any Channel, fanouts: ViewerFanouts, stallTimeout: Duration,
        framing: @escaping FrameDelivery.Framing, logger: Logger, onHubFinished: @escaping () -> Void
    ) throws {
        eventLoop = channel.eventLoop
        self.logger = logger
        eventLoop.preconditionInEventLoop()
        let frameBytes = cameras.compactMap { $0.hub.latest?.jpeg.readableBytes }.max() ?? 128 * 1024
        let writer = try RawStreamWriter.install(on: channel, frameBytes: frameBytes)
        delivery = FrameDelivery(
            channel: channel, writer: writer,
            options: .init(kind: .websocket, showsPlaceholders: false, stallTimeout: stallTimeout),
            traffic: Dictionary(cameras.map { ($0.id, $0.hub.traffic) }, uniquingKeysWith: { first, _ in first }),
            logger: logger, onHubFinished: onHubFinished, framing: framing)
        for camera in cameras {
            let fanout = fanouts.fanout(for: camera.hub, on: eventLoop)
            guard fanout.add(delivery) else { break }
            self.fanouts.append(fanout)
            if let greeting = camera.hub.greeting(maxAge: camera.config.maxFrameAge) {
                delivery.offer(OutgoingFrame(greeting))
            }
        }
    }

    /// Stops sending frames and leaves the fan-outs; harmless when repeated.
    ///
    /// It does not wait: the work is queued on the socket's event loop, so
    /// anything the caller writes to the socket afterwards (the close
    /// message, whose write is queued on the same loop) comes after it.
    /// Waiting here let a shutdown close the socket first, without its
    /// reason.
    func detach() {
        eventLoop.execute {
            guard !self.detached else { return }
            self.detached = true
            self.delivery.stop()
            for fanout in self.fanouts {
                fanout.remove(self.delivery)
            }
            self.fanouts = []
            self.logger.debug(
                "frames", metadata: ["sent": "\(self.delivery.sent)", "dropped": "\(self.delivery.dropped)"])
        }
    }
}
