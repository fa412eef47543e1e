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

    /// Adds a writer to `pipeline`; on its event loop.
    static func install(in pipeline: ChannelPipeline) throws -> RawStreamWriter {
        let writer = RawStreamWriter()
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
