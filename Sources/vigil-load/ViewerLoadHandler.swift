import Foundation
import NIOCore

/// Per-client results of a load run.
struct ClientStats: Sendable {
    var frames = 0
    var bytes = 0
    /// Latencies in seconds of the frames counted (after the warm-up): from
    /// when the frame was taken or published to when its last byte arrived.
    var latencies: [Double] = []
    var firstCounted: Double?
    var lastCounted: Double?
    var error: String?
}

/// What every load client does: send its request when connected, count the
/// bytes and frames that come back and record why it ended. Subclasses read
/// their protocol in `consume` and call `frameReceived` for each frame.
///
/// Confined to its channel's event loop; `stats` is read through
/// `eventLoop.submit`, hence the unchecked conformance.
class ViewerLoadHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let request: String
    private let countFrom: Double
    private(set) var stats = ClientStats()

    /// Only frames received after `countFrom` (seconds since 1970) are counted.
    init(request: String, countFrom: Double) {
        self.request = request
        self.countFrom = countFrom
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.error = "\(error)"
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if stats.error == nil { stats.error = "connection closed" }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        stats.bytes += buffer.readableBytes
        buffer.withUnsafeReadableBytes { consume($0, context: context) }
    }

    /// The next bytes from the server.
    func consume(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        preconditionFailure("subclasses read their protocol")
    }

    /// The connection failed or ended for this reason.
    func fail(_ reason: String) {
        stats.error = reason
    }

    /// A frame's last byte arrived; `taken` is when it was taken or published.
    func frameReceived(taken: Double?) {
        let now = Date().timeIntervalSince1970
        guard now >= countFrom else { return }
        stats.frames += 1
        if stats.firstCounted == nil { stats.firstCounted = now }
        stats.lastCounted = now
        if let taken { stats.latencies.append(now - taken) }
    }
}
