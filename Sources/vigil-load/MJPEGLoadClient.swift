import Foundation
import NIOCore

/// Reads one MJPEG response as it arrives and counts frames, without keeping
/// any: it walks the chunked encoding and the part headers, skips each JPEG by
/// its Content-Length and records, when a JPEG's last byte arrives, the time
/// since the camera took it (`FrameStampReader`), or else since the server
/// published it (`X-Timestamp`).
final class MJPEGLoadHandler: ViewerLoadHandler, @unchecked Sendable {
    private enum HTTPState {
        case head
        /// A body delimited by the connection's end: all bytes are the stream.
        case raw
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd(remaining: Int)
    }

    private enum PartState {
        case headers
        case body(remaining: Int)
    }

    private var http = HTTPState.head
    private var part = PartState.headers
    private var line: [UInt8] = []
    private var headerText: [UInt8] = []
    private var timestamp: Double?
    private var stamp = FrameStampReader()

    /// Only frames received after `countFrom` (seconds since 1970) are counted.
    init(host: String, path: String, countFrom: Double) {
        super.init(
            request: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: vigil-load\r\n\r\n", countFrom: countFrom)
    }

    override func consume(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        consumeHTTP(bytes)
    }

    private func consumeHTTP(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            switch http {
            case .head:
                let byte = bytes[index]
                index += 1
                line.append(byte)
                if line.count >= 4, line.suffix(4) == [13, 10, 13, 10] {
                    let head = String(decoding: line, as: UTF8.self)
                    line = []
                    guard head.hasPrefix("HTTP/1.1 200") else {
                        fail(String(head.prefix(while: { $0 != "\r" })))
                        return
                    }
                    http = head.lowercased().contains("transfer-encoding: chunked") ? .chunkSize : .raw
                }
            case .raw:
                consumeBody(UnsafeRawBufferPointer(rebasing: bytes[index...]))
                index = bytes.count
            case .chunkSize:
                let byte = bytes[index]
                index += 1
                if byte == 10 {
                    let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    line = []
                    let size = Int(text.split(separator: ";").first ?? "", radix: 16) ?? 0
                    http = size == 0 ? .head : .chunkData(remaining: size)
                } else {
                    line.append(byte)
                }
            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - index)
                consumeBody(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                http = remaining == take ? .chunkEnd(remaining: 2) : .chunkData(remaining: remaining - take)
            case .chunkEnd(let remaining):
                index += 1
                http = remaining == 1 ? .chunkSize : .chunkEnd(remaining: remaining - 1)
            }
        }
    }

    private func consumeBody(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            switch part {
            case .headers:
                let byte = bytes[index]
                index += 1
                headerText.append(byte)
                if byte == 10, headerText.count >= 4, headerText.suffix(4) == [13, 10, 13, 10] {
                    let text = String(decoding: headerText, as: UTF8.self)
                    headerText = []
                    var length = 0
                    timestamp = nil
                    stamp.reset()
                    for field in text.split(separator: "\r\n") {
                        if field.hasPrefix("Content-Length:") {
                            length = Int(field.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                        } else if field.hasPrefix("X-Timestamp:") {
                            timestamp = Double(field.dropFirst(12).trimmingCharacters(in: .whitespaces))
                        }
                    }
                    if length > 0 { part = .body(remaining: length) }
                }
            case .body(let remaining):
                let take = min(remaining, bytes.count - index)
                stamp.consume(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                if take == remaining {
                    part = .headers
                    frameReceived(taken: stamp.stamp ?? timestamp)
                } else {
                    part = .body(remaining: remaining - take)
                }
            }
        }
    }
}

/// Reads at most `bytesPerSecond` by asking the channel for data on a timer
/// (auto-read is off), like a viewer on a slow link.
final class ThrottledReader: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private let chunk: Int
    private let interval: TimeAmount
    private var task: RepeatedTask?
    private var timerRead = false

    init(bytesPerSecond: Int, chunk: Int = 4096) {
        self.chunk = chunk
        self.interval = .nanoseconds(Int64(Double(chunk) / Double(bytesPerSecond) * 1e9))
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            handler.value.timerRead = true
            channel.read()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        // Reads happen only on the timer.
        if timerRead {
            timerRead = false
            context.read()
        }
    }
}
