import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// Closes a connection whose first request head has not arrived within
/// `timeout` (server.idle_timeout).
///
/// With WebSocket upgrades enabled, Hummingbird adds its idle timer only
/// after the first request (the upgrade handler sees it first), so a client
/// that connects and sends nothing, or dribbles a header, would hold its
/// connection forever. This handler sits in front of everything until the
/// end of the first head ("\r\n\r\n") has been read, then removes itself;
/// from there Hummingbird's idle timer (HTTP) or the WebSocket ping takes over.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?
    /// How much of "\r\n\r\n" the bytes read so far end with.
    private var matched = 0

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        schedule(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var headEnded = false
        for byte in buffer.readableBytesView {
            let expected: UInt8 = matched % 2 == 0 ? 0x0D : 0x0A
            if byte == expected {
                matched += 1
            } else {
                matched = byte == 0x0D ? 1 : 0
            }
            if matched == 4 {
                headEnded = true
                break
            }
        }
        context.fireChannelRead(data)
        if headEnded {
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func schedule(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }
}

/// The HTTP/1 + WebSocket child channel with a `FirstRequestDeadline` in
/// front of it.
/// Each accepted connection: TLS first when configured (so that everything
/// after it reads plain HTTP), then the first-request deadline, then the
/// HTTP/WebSocket pipeline.
struct DeadlineChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner
    let firstRequestTimeout: TimeAmount
    var tls: NIOSSLContext? = nil
    var connections: ConnectionsPerAddress? = nil

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if let connections, !connections.admit(channel) {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        do {
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            try channel.pipeline.syncOperations.addHandler(FirstRequestDeadline(timeout: firstRequestTimeout))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
