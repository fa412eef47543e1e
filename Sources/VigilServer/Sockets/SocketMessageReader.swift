import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import VigilAPI

/// Reads a client's messages on any of Vigil's sockets: fragments joined,
/// sizes bounded, every bad message answered with an error and counted, and
/// the socket closed when a client keeps sending them.
///
/// The one loop over incoming frames; what a message means is the handler's
/// business.
struct SocketMessageReader {
    enum Message {
        case text(ByteBuffer)
        case binary(ByteBuffer)
    }

    /// What the handler made of a message.
    enum Verdict {
        case accepted
        /// Answered with the error; the socket goes on until too many.
        case rejected(SocketError)
        /// Answered with the error, then the socket is closed with `code`.
        case fatal(SocketError, closeCode: UInt16)
    }

    /// How the reading ended.
    enum End {
        /// The connection went away (or broke).
        case clientGone
        /// A close was queued on the outbox; its sender will send it.
        case closeRequested
    }

    /// Bad messages tolerated per socket before it is closed (1008).
    static let maxBadMessages = 20

    var maxTextBytes: Int
    var maxBinaryBytes: Int

    /// Reads until the client leaves or a verdict closes the socket.
    /// `oversize` judges a message over its limit (read to its end and
    /// dropped, never held in memory).
    func read(
        _ inbound: WebSocketInboundStream, outbox: SocketOutbox,
        oversize: (_ isText: Bool, _ limit: Int) -> Verdict,
        handle: (Message) async -> Verdict
    ) async -> End {
        var iterator = inbound.makeAsyncIterator()
        var message = ByteBuffer()
        var isText = true
        var tooLarge = false
        var bad = 0
        do {
            while let frame = try await iterator.next() {
                outbox.touch()
                if frame.opcode != .continuation {
                    message.clear()
                    isText = frame.opcode == .text
                    tooLarge = false
                }
                let limit = isText ? maxTextBytes : maxBinaryBytes
                if !tooLarge {
                    if message.readableBytes + frame.data.readableBytes > limit {
                        tooLarge = true
                        message.clear()
                    } else {
                        var data = frame.data
                        message.writeBuffer(&data)
                    }
                }
                guard frame.fin else { continue }
                let verdict =
                    tooLarge ? oversize(isText, limit) : await handle(isText ? .text(message) : .binary(message))
                switch verdict {
                case .accepted:
                    break
                case .rejected(let error):
                    bad += 1
                    outbox.send(ServerMessage.error(error))
                    if bad >= Self.maxBadMessages {
                        outbox.close(code: 1008, reason: "too many bad messages (\(bad))")
                        return .closeRequested
                    }
                case .fatal(let error, let closeCode):
                    outbox.send(ServerMessage.error(error))
                    outbox.close(code: closeCode, reason: String(error.message.prefix(120)))
                    return .closeRequested
                }
            }
        } catch {
            // The connection broke or sent a malformed frame; WSCore closes it.
        }
        return .clientGone
    }
}
