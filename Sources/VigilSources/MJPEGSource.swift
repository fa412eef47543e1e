import Logging
import NIOCore
import NIOHTTP1
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `kind: mjpeg`: pulls an HTTP `multipart/x-mixed-replace` stream (IP
/// cameras, µStreamer, mjpg-streamer, another Vigil).
///
/// One source object is one connection: it is opened in `run` and closed
/// when `run` returns or the task is cancelled, and never reused. The body
/// goes through the JPEG framing parser, which finds frames by their JPEG
/// structure: part headers (with or without Content-Length, any boundary
/// style, LF-only line ends) are skipped as bytes between frames, and chunked
/// transfer encoding is undone by NIO's HTTP decoder before that.
public struct MJPEGSource: FrameSource {
    public let context: SourceContext
    public let config: MJPEGConfig

    public init(context: SourceContext, config: MJPEGConfig) {
        self.context = context
        self.config = config
    }

    private var logger: Logger { context.logger }
    private var maxFrameBytes: Int { context.maxFrameBytes }

    public func run(into sink: FrameSink) async throws {
        guard let url = URL(string: config.url), let host = url.host else {
            throw SourceEnded("bad url: \(config.url)")
        }
        let port = url.port ?? 80
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        let user = config.username ?? url.user(percentEncoded: false)
        let password = config.password ?? url.password(percentEncoded: false) ?? ""

        let channel: HTTPClientConnection.Channel
        do {
            channel = try await HTTPClientConnection.connect(host: host, port: port, timeout: config.connectTimeout)
        } catch {
            throw SourceEnded("cannot connect to \(host):\(port): \(Self.describe(error))")
        }
        let maxFrameBytes = self.maxFrameBytes
        try await channel.executeThenClose { inbound, outbound in
            var head = HTTPClientConnection.get(target, host: host, port: port)
            head.headers.add(name: "Accept", value: "multipart/x-mixed-replace, */*")
            if let token = config.bearerToken {
                head.headers.add(name: "Authorization", value: "Bearer \(token)")
            } else if let user {
                let credentials = Data("\(user):\(password)".utf8).base64EncodedString()
                head.headers.add(name: "Authorization", value: "Basic \(credentials)")
            }
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            var parser = JPEGFrameParser(maxFrameBytes: maxFrameBytes)
            for try await part in inbound {
                switch part {
                case .head(let response):
                    guard response.status == .ok else {
                        throw SourceEnded("\(response.status.code) from upstream (\(response.status.reasonPhrase))")
                    }
                    let type = response.headers.first(name: "content-type") ?? "no content type"
                    guard type.lowercased().hasPrefix("multipart/") else {
                        throw SourceEnded("not an MJPEG stream: \(type)")
                    }
                case .body(let buffer):
                    parser.feed(buffer) { sink.deliver($0) }
                case .end:
                    throw SourceEnded("upstream ended the stream (\(Self.describe(parser.statistics)))")
                }
            }
            throw SourceEnded("upstream closed the connection (\(Self.describe(parser.statistics)))")
        }
    }

    static func describe(_ statistics: JPEGFrameParser.Statistics) -> String {
        "frames \(statistics.frames), truncated \(statistics.truncated), oversize \(statistics.oversize)"
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        if error is ChannelError, case ChannelError.connectTimeout = error {
            return "timed out"
        }
        return "\(error)"
    }
}
