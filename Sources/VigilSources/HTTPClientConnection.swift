import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain HTTP/1.1 client connection as an async channel: the MJPEG source
/// and the upgrade probe both open one per request and close it with
/// `executeThenClose`.
enum HTTPClientConnection {
    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    static func connect(host: String, port: Int, timeout: Duration) async throws -> Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(timeout.seconds * 1e9)))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Channel(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// A GET request head for `target` on `host:port`.
    static func get(_ target: String, host: String, port: Int) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
        head.headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        head.headers.add(name: "User-Agent", value: "Vigil")
        return head
    }
}
