import NIOCore
import NIOWebSocket
import VigilCore

/// Unmasks the frames a client sends, eight bytes at a time, right after
/// NIO's WebSocket decoder, and passes them on unmasked.
///
/// Clients must mask every frame. NIO leaves the unmasking to whoever reads
/// the frame, and its `unmaskedData` copies the payload and XORs it one byte
/// at a time: for an ingest session of 720p frames that was a quarter of the
/// server's CPU. Here each payload is copied and unmasked in one pass of
/// 64-bit words, into a buffer laid out for a frame (headroom for the MJPEG
/// part headers, so a pushed JPEG is not copied again when it is published).
/// Frames without a mask pass untouched; the WebSocket layer above sees a
/// frame without a mask key and uses its data as it is.
final class ClientFrameUnmasker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// Adds an unmasker right after the WebSocket decoder of `channel`'s
    /// pipeline; on its event loop. Does nothing when there is no decoder.
    static func install(on channel: any Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        guard let decoder = try? pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) else {
            return
        }
        try pipeline.addHandler(ClientFrameUnmasker(), position: .after(decoder))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let key = frame.maskKey, frame.extensionData == nil else {
            context.fireChannelRead(data)
            return
        }
        frame.data = Self.unmasked(frame.data, key: key)
        frame.maskKey = nil
        context.fireChannelRead(wrapInboundOut(frame))
    }

    /// `data` XORed with `key` repeated, as a new buffer.
    static func unmasked(_ data: ByteBuffer, key: WebSocketMaskingKey) -> ByteBuffer {
        let count = data.readableBytes
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { bytes in
            for index in 0..<8 { bytes[index] = key[index % 4] }
        }
        var output = MJPEGPart.allocateFrameBuffer(capacity: count)
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            data.withUnsafeReadableBytes { source in
                var index = 0
                while index + 8 <= count {
                    let word = source.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    target.storeBytes(of: word ^ pattern, toByteOffset: index, as: UInt64.self)
                    index += 8
                }
                while index < count {
                    target[index] = source[index] ^ key[index % 4]
                    index += 1
                }
            }
            return count
        }
        return output
    }
}
