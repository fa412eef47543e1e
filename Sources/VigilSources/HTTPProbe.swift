import NIOCore
import NIOHTTP1

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Asks an HTTP server what it answers at a URL: status and content type,
/// nothing more. Used to explain a failed WebSocket upgrade in words.
enum HTTPProbe {
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var contentType: String?
    }

    /// The answer to a plain GET of `url` (ws/wss are asked as http), or nil
    /// when there is none within `timeout`.
    static func probe(_ url: String, timeout: Duration = .seconds(2)) async -> Answer? {
        guard let parsed = URL(string: url), let host = parsed.host, parsed.scheme?.lowercased() == "ws" else {
            return nil
        }
        let port = parsed.port ?? 80
        var path = parsed.path(percentEncoded: true)
        if path.isEmpty { path = "/" }
        if let query = parsed.query(percentEncoded: true) { path += "?" + query }
        let target = path
        do {
            return try await withThrowingTaskGroup(of: Answer?.self) { group in
                group.addTask {
                    let channel = try await HTTPClientConnection.connect(host: host, port: port, timeout: timeout)
                    return try await channel.executeThenClose { inbound, outbound in
                        var head = HTTPClientConnection.get(target, host: host, port: port)
                        head.headers.add(name: "Connection", value: "close")
                        try await outbound.write(.head(head))
                        try await outbound.write(.end(nil))
                        for try await part in inbound {
                            if case .head(let response) = part {
                                return Answer(
                                    status: response.status, contentType: response.headers.first(name: "content-type"))
                            }
                        }
                        return nil
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let answer = try await group.next() ?? nil
                group.cancelAll()
                return answer
            }
        } catch {
            return nil
        }
    }
}
