import NIOCore
import NIOPosix
import VigilCore

/// Whether a network camera's upstream accepts TCP connections: a bare
/// connect, closed at once, that costs the upstream one accepted and closed
/// connection (a refused one costs it a RST). `Camera` asks it while it
/// waits out a restart backoff after the upstream became unreachable, so
/// frames are back within a probe interval of the upstream's return instead
/// of after a backoff that grew during the outage.
public enum UpstreamProbe {
    /// A probe for `source`, or nil for sources with no upstream to reach
    /// (processes, test patterns, pushes).
    public static func make(for source: SourceConfig) -> CameraReachability? {
        guard let (host, port) = endpoint(of: source) else { return nil }
        return { await isReachable(host: host, port: port, timeout: .milliseconds(500)) }
    }

    /// Host and port of a network source's URL.
    static func endpoint(of source: SourceConfig) -> (String, Int)? {
        let url: String
        switch source {
        case .mjpeg(let config): url = config.url
        case .websocket(let config): url = config.url
        case .socketIO(let config): url = config.url
        case .testPattern, .exec, .push: return nil
        }
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound]
        let secure = scheme == "https" || scheme == "wss"
        var authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let port = Int(authority[authority.index(after: close)...].dropFirst()) ?? (secure ? 443 : 80)
            return (host, port)
        }
        let parts = authority.split(separator: ":", maxSplits: 1)
        guard let host = parts.first, !host.isEmpty else { return nil }
        let port = parts.count == 2 ? Int(parts[1]) : (secure ? 443 : 80)
        guard let port, (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    static func isReachable(host: String, port: Int, timeout: Duration) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(
                    .nanoseconds(
                        Int64(timeout.components.seconds) * 1_000_000_000
                            + timeout.components.attoseconds / 1_000_000_000)
                )
                .connect(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
