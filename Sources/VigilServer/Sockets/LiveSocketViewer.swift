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

    /// Joins the cameras' fan-outs and offers each camera's latest frame if
    /// it is fresh. Throws when the raw writer cannot be added (the channel
    /// is closing).
    init(
        cameras: [Camera], channel: any Channel, fanouts: ViewerFanouts, stallTimeout: Duration,
        framing: @escaping FrameDelivery.Framing, logger: Logger, onHubFinished: @escaping () -> Void
    ) throws {
        eventLoop = channel.eventLoop
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

    /// Frames written to the socket and frames a newer one replaced.
    private(set) var sent = 0
    private(set) var dropped = 0

    /// Stops sending frames and leaves the fan-outs; harmless when repeated.
    func detach() async {
        try? await eventLoop.submit {
            self.delivery.stop()
            for fanout in self.fanouts {
                fanout.remove(self.delivery)
            }
            self.fanouts = []
            self.sent = self.delivery.sent
            self.dropped = self.delivery.dropped
        }.get()
    }
}
