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
/// A viewer slower than its camera (a frame came while the previous one was
/// still being written) is paced: its next frame goes only once the kernel
/// says it has taken the previous one (`ReceiverBacklog`), so frames never
/// queue in its socket buffers and what it gets is the newest frame, not one
/// that waited there for seconds. A viewer that keeps up again for
/// `fastAgainAfter` frames in a row is no longer paced.
///
/// All of it runs on `eventLoop` (asserted in debug builds), which is why
/// there is no lock: the fan-outs call `offer` from that loop.
final class FrameDelivery {
    /// The bytes of one frame on this viewer's wire: a buffer, and optionally
    /// a second one written with it (one `writev`), such as a WebSocket header
    /// and the shared JPEG.
    typealias Framing = @Sendable (OutgoingFrame) -> (ByteBuffer, ByteBuffer?)

    struct Options {
        var kind: ViewerTraffic.Kind
        /// Whether placeholder cards are shown (MJPEG shows them; WebSocket
        /// viewers learn the camera's state from state messages instead).
        var showsPlaceholders: Bool
        var stallTimeout: Duration
        /// At most one frame per interval (a viewer's `?fps=`).
        var minInterval: TimeAmount?
    }

    /// Paced viewers are looked at again this often while they have not
    /// taken the previous frame.
    static let pacingCheckInterval = TimeAmount.milliseconds(10)
    /// Frames in a row a paced viewer takes without waiting before it is
    /// treated as fast again.
    static let fastAgainAfter = 60

    let kind: ViewerTraffic.Kind
    private let eventLoop: any EventLoop
    private let writer: RawStreamWriter
    /// The connection's socket, for `TCP_INFO` (nil: never paced).
    private let socket: (any SocketOptionProvider)?
    private var backlog = ReceiverBacklog()
    private var isPaced = false
    private var keptUp = 0
    /// Since when a paced viewer has not taken the previous frame.
    private var drainWaitSince: NIODeadline?
    private let framing: Framing
    private let options: Options
    /// `options.stallTimeout` on NIO's clock, converted once.
    private let stallAfter: TimeAmount
    private let traffic: [String: ViewerTraffic]
    private let onHubFinished: (() -> Void)?
    private let logger: Logger
    /// The newest frame per camera, oldest camera first.
    private var pending: [OutgoingFrame] = []
    private var inFlightSince: NIODeadline?
    private var lastSent = NIODeadline.distantPast
    private var timer: Scheduled<Void>?
    private var stopped = false
    private(set) var sent = 0
    private(set) var dropped = 0

    /// `onHubFinished` runs when a camera shuts down; without it the
    /// connection is closed.
    init(
        channel: any Channel, writer: RawStreamWriter, options: Options, traffic: [String: ViewerTraffic],
        logger: Logger, onHubFinished: (() -> Void)? = nil, framing: @escaping Framing
    ) {
        self.kind = options.kind
        self.eventLoop = channel.eventLoop
        self.socket = channel as? any SocketOptionProvider
        self.writer = writer
        self.options = options
        self.stallAfter = .nanoseconds(Int64(options.stallTimeout.seconds * 1e9))
        self.traffic = traffic
        self.logger = logger
        self.onHubFinished = onHubFinished
        self.framing = framing
    }

    /// A new frame of one of the viewer's cameras.
    func offer(_ frame: OutgoingFrame) {
        eventLoop.assertInEventLoop()
        guard !stopped, options.showsPlaceholders || !frame.isPlaceholder else { return }
        if let since = inFlightSince {
            if NIODeadline.now() - since > stallAfter {
                logger.info(
                    "viewer stalled: a frame waited more than \(options.stallTimeout) to be written, disconnecting")
                closeConnection()
                return
            }
            if !isPaced, socket != nil {
                isPaced = true
                logger.debug("viewer slower than its camera: paced by what it takes")
            }
            keptUp = 0
        } else if pending.isEmpty, timer == nil, !isPaced, options.minInterval == nil {
            send(frame)  // The common case: a viewer that keeps up.
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
        guard !stopped, inFlightSince == nil, timer == nil, !pending.isEmpty else { return }
        if let minInterval = options.minInterval, NIODeadline.now() < lastSent + minInterval {
            retry(at: lastSent + minInterval)
            return
        }
        guard isPaced, let socket else {
            send(pending.removeFirst())
            return
        }
        let delivery = NIOLoopBound(self, eventLoop: eventLoop)
        KernelTCPInfo.read(socket).whenComplete { result in
            let delivery = delivery.value
            guard !delivery.stopped, delivery.inFlightSince == nil, delivery.timer == nil,
                !delivery.pending.isEmpty
            else { return }
            if case .success(let info) = result, !delivery.backlog.isDrained(info) {
                delivery.keptUp = 0
                delivery.waitForDrain()
                return
            }
            delivery.drainWaitSince = nil
            delivery.keptUp += 1
            if delivery.keptUp >= Self.fastAgainAfter {
                delivery.isPaced = false
                delivery.logger.debug("viewer keeps up again: no longer paced")
            }
            delivery.send(delivery.pending.removeFirst())
        }
    }

    /// A paced viewer has not taken the previous frame: look again soon, or
    /// disconnect it when it has taken nothing for `stallTimeout` (its
    /// frames are written, so the write-based stall check cannot see it).
    private func waitForDrain() {
        let now = NIODeadline.now()
        let since = drainWaitSince ?? now
        drainWaitSince = since
        if now - since > stallAfter {
            logger.info("viewer stalled: took nothing for more than \(options.stallTimeout), disconnecting")
            closeConnection()
            return
        }
        retry(at: now + Self.pacingCheckInterval)
    }

    /// Tries `sendNext` again at `deadline`.
    private func retry(at deadline: NIODeadline) {
        let delivery = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(deadline: deadline) {
            delivery.value.timer = nil
            delivery.value.sendNext()
        }
    }

    private func send(_ frame: OutgoingFrame) {
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
