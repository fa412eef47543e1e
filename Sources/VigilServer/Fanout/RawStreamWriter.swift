import NIOCore
import NIOSSL

/// Writes raw bytes straight to the socket from the front of the pipeline,
/// below the HTTP and WebSocket codecs (right after TLS when there is TLS:
/// those bytes must still be encrypted). Added only to connections that
/// became live streams, whose frames are written as pre-built bytes.
final class RawStreamWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?

    /// Makes `channel` a live stream of frames of about `frameBytes` and
    /// adds a writer to its pipeline; on its event loop.
    static func install(on channel: any Channel, frameBytes: Int) throws -> RawStreamWriter {
        // Frames are larger than NIO's default 64 KiB high watermark; a higher
        // one avoids flipping writability (and waking whatever watches it) on
        // every frame. A `FrameDelivery` keeps at most one frame in flight,
        // so this does not queue frames.
        channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
            .whenFailure { _ in }
        // Frames waiting in the kernel's socket buffers cannot be replaced by
        // newer ones: a default (auto-tuned, megabytes) send buffer leaves a
        // slow viewer seconds behind. One frame (the kernel doubles it) keeps a
        // fast viewer's pipe full and a slow one close to live.
        let sendBuffer = min(max(frameBytes, 32 * 1024), 2 * 1024 * 1024)
        channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer))
            .whenFailure { _ in }
        let writer = RawStreamWriter()
        let pipeline = channel.pipeline
        let tls = try? pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        try pipeline.syncOperations.addHandler(writer, position: tls.map { .after($0) } ?? .first)
        return writer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Queues `buffer` without flushing (the next flush sends it in the same
    /// `writev`).
    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func writeAndFlush(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    /// Closes the connection.
    func close() {
        context?.close(promise: nil)
    }
}
