import Logging
import NIOCore
import VigilCore

/// Sends one live viewer (an MJPEG stream or a live WebSocket) its frames, on
/// the viewer's event loop, as pre-built bytes written below the codecs.
///
/// It keeps one frame in flight and, per camera, the newest frame pending
/// (an older pending one is replaced and counted as dropped), so a viewer's
/// memory is constant and a slow viewer always gets the newest frame. With
/// several cameras (one `/api/v1/live` socket) the pending frames go out
/// oldest camera first, so no camera starves another. A viewer whose write has
/// not completed for `stallTimeout` is disconnected.
///
/// All of it runs on `eventLoop` (asserted in debug builds), which is why
/// there is no lock: the fan-outs call `offer` from that loop.
final class FrameDelivery {
    /// The bytes of one frame on this viewer's wire: a buffer, and optionally
    /// a second one written with it (one `writev`), such as a WebSocket header
    /// and the shared JPEG.
    typealias Framing = @Sendable (Frame) -> (ByteBuffer, ByteBuffer?)

    struct Options {
        var kind: ViewerTraffic.Kind
        /// Whether placeholder cards are shown (MJPEG shows them; WebSocket
        /// viewers learn the camera's state from state messages instead).
        var showsPlaceholders: Bool
        var stallTimeout: Duration
        /// At most one frame per interval (a viewer's `?fps=`).
        var minInterval: TimeAmount?
    }

    let kind: ViewerTraffic.Kind
    private let eventLoop: any EventLoop
    private let writer: RawStreamWriter
    private let framing: Framing
    private let options: Options
    private let traffic: [String: ViewerTraffic]
    private let onHubFinished: (() -> Void)?
    private let logger: Logger
    /// The newest frame per camera, oldest camera first.
    private var pending: [Frame] = []
    private var inFlightSince: NIODeadline?
    private var lastSent = NIODeadline.distantPast
    private var timer: Scheduled<Void>?
    private var stopped = false
    private(set) var sent = 0
    private(set) var dropped = 0

    /// `onHubFinished` runs when a camera shuts down; without it the
    /// connection is closed.
    init(
        eventLoop: any EventLoop, writer: RawStreamWriter, options: Options, traffic: [String: ViewerTraffic],
        logger: Logger, onHubFinished: (() -> Void)? = nil, framing: @escaping Framing
    ) {
        self.kind = options.kind
        self.eventLoop = eventLoop
        self.writer = writer
        self.options = options
        self.traffic = traffic
        self.logger = logger
        self.onHubFinished = onHubFinished
        self.framing = framing
    }

    /// A new frame of one of the viewer's cameras.
    func offer(_ frame: Frame) {
        eventLoop.assertInEventLoop()
        guard !stopped, options.showsPlaceholders || !frame.isPlaceholder else { return }
        if let since = inFlightSince,
            NIODeadline.now() - since > .nanoseconds(Int64(options.stallTimeout.seconds * 1e9))
        {
            logger.info("viewer stalled: a frame waited more than \(options.stallTimeout) to be written, disconnecting")
            closeConnection()
            return
        }
        if let index = pending.firstIndex(where: { $0.camera == frame.camera }) {
            pending[index] = frame
            dropped += 1
            traffic[frame.camera]?.frameDropped()
        } else {
            pending.append(frame)
        }
        sendNext()
    }

    /// The camera is shutting down.
    func hubFinished() {
        eventLoop.assertInEventLoop()
        guard let onHubFinished else {
            closeConnection()
            return
        }
        stop()
        onHubFinished()
    }

    /// Sends nothing more (the viewer left or its connection is closing).
    func stop() {
        eventLoop.assertInEventLoop()
        stopped = true
        timer?.cancel()
        timer = nil
        pending = []
    }

    private func closeConnection() {
        stop()
        writer.close()
    }

    private func sendNext() {
        guard !stopped, inFlightSince == nil, !pending.isEmpty else { return }
        if let minInterval = options.minInterval {
            let allowedAt = lastSent + minInterval
            if NIODeadline.now() < allowedAt {
                if timer == nil {
                    let delivery = NIOLoopBound(self, eventLoop: eventLoop)
                    timer = eventLoop.scheduleTask(deadline: allowedAt) {
                        delivery.value.timer = nil
                        delivery.value.sendNext()
                    }
                }
                return
            }
        }
        send(pending.removeFirst())
    }

    private func send(_ frame: Frame) {
        let now = NIODeadline.now()
        inFlightSince = now
        lastSent = now
        sent += 1
        traffic[frame.camera]?.frameSent()
        let (head, rest) = framing(frame)
        let promise = eventLoop.makePromise(of: Void.self)
        if let rest {
            writer.write(head)
            writer.writeAndFlush(rest, promise: promise)
        } else {
            writer.writeAndFlush(head, promise: promise)
        }
        let delivery = NIOLoopBound(self, eventLoop: eventLoop)
        promise.futureResult.whenComplete { result in
            let delivery = delivery.value
            delivery.inFlightSince = nil
            switch result {
            case .success: delivery.sendNext()
            case .failure: delivery.closeConnection()
            }
        }
    }
}
