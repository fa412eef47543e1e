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

/// One HTTP/1.1 request with a bounded response, for the command-line
/// clients (`vigil capture`). A new connection per request; no redirects.
public enum SimpleHTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: ByteBuffer

        public var text: String { String(buffer: body) }

        /// The body as a JSON object, if it is one.
        public var json: [String: Any]? {
            JSONText.parse(Data(body.readableBytesView)) as? [String: Any]
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `method` to `url` (http only) and reads the whole answer, at
    /// most `maxBody` bytes, within `timeout`.
    public static func request(
        _ method: HTTPMethod, _ url: String, body: ByteBuffer? = nil, timeout: Duration = .seconds(10),
        maxBody: Int = 64 << 20
    ) async throws -> Response {
        guard let parsed = URL(string: url), parsed.scheme?.lowercased() == "http", let host = parsed.host else {
            throw Failure(description: "not an http:// URL: \(url)")
        }
        let port = parsed.port ?? 80
        var target = parsed.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = parsed.query(percentEncoded: true) { target += "?" + query }
        let path = target
        return try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask {
                let channel = try await HTTPClientConnection.connect(host: host, port: port, timeout: timeout)
                return try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPClientConnection.get(path, host: host, port: port)
                    head.method = method
                    head.headers.add(name: "Connection", value: "close")
                    head.headers.add(name: "Content-Length", value: "\(body?.readableBytes ?? 0)")
                    try await outbound.write(.head(head))
                    if let body { try await outbound.write(.body(.byteBuffer(body))) }
                    try await outbound.write(.end(nil))
                    var response = Response(status: 0, headers: [], body: ByteBuffer())
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            response.status = Int(head.status.code)
                            response.headers = head.headers.map { ($0.name, $0.value) }
                        case .body(var chunk):
                            guard response.body.readableBytes + chunk.readableBytes <= maxBody else {
                                throw Failure(description: "answer from \(url) is larger than \(maxBody) bytes")
                            }
                            response.body.writeBuffer(&chunk)
                        case .end:
                            return response
                        }
                    }
                    throw Failure(description: "connection to \(host):\(port) closed before the answer ended")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw Failure(description: "no answer from \(url) within \(timeout)") }
            return first
        }
    }
}
