import AsyncHTTPClient
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilCore

/// `kind: websocket`: a WebSocket that sends one JPEG per binary message
/// (another Vigil's `/cameras/{id}/live`). Text messages are ignored.
///
/// Each attempt builds a new client and connection; a message that is not
/// exactly one JPEG is skipped and counted; a message over `max_frame_bytes`
/// ends the connection (the next attempt starts fresh).
public struct WebSocketSource: FrameSource {
    public let context: SourceContext
    public let config: WebSocketSourceConfig

    public init(context: SourceContext, config: WebSocketSourceConfig) {
        self.context = context
        self.config = config
    }

    private var logger: Logger { context.logger }
    private var maxFrameBytes: Int { context.maxFrameBytes }

    public func run(into sink: FrameSink) async throws {
        let maxFrameBytes = self.maxFrameBytes
        let skipped = Atomic<Int>(0)
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = maxFrameBytes
        // A zombie upstream never answers our close: do not wait long for it.
        configuration.closeTimeout = .seconds(1)
        // Pings find a dead TCP connection; they do not make a connection
        // "alive" for the watchdog, which only counts frames.
        configuration.autoPing = .enabled(timePeriod: .seconds(2))
        let client = WebSocketClient(url: config.url, configuration: configuration, logger: logger) {
            inbound, _, _ in
            for try await message in inbound.messages(maxSize: maxFrameBytes) {
                guard case .binary(let buffer) = message else { continue }
                if let jpeg = JPEGFrameParser.single(buffer, maxFrameBytes: maxFrameBytes) {
                    sink.deliver(jpeg)
                } else {
                    skipped.add(1, ordering: .relaxed)
                    sink.reject("a binary message that is not one JPEG of at most max_frame_bytes")
                }
            }
        }
        let closeFrame: WebSocketCloseFrame?
        do {
            closeFrame = try await client.run()
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            throw SourceEnded("websocket \(config.url): \(await Self.explainFailedUpgrade(config.url))")
        } catch {
            throw SourceEnded("websocket \(config.url): \(error)")
        }
        let reason = closeFrame.map { "code \($0.closeCode)\($0.reason.map { ", \($0)" } ?? "")" } ?? "no close frame"
        throw SourceEnded(
            "upstream closed the WebSocket (\(reason); messages that were not a JPEG: \(skipped.load(ordering: .relaxed)))"
        )
    }

    /// What the server answers a plain GET instead of upgrading, in words.
    static func explainFailedUpgrade(_ url: String) async -> String {
        guard url.hasPrefix("ws://") || url.hasPrefix("wss://") else { return "WebSocket upgrade failed" }
        let request = HTTPClientRequest(url: "http" + url.dropFirst(2))
        guard let answer = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)) else {
            return "WebSocket upgrade failed"
        }
        if answer.status != .ok {
            return "upgrade refused: \(answer.status.code) from upstream (\(answer.status.reasonPhrase))"
        }
        return "not a WebSocket endpoint: \(answer.headers.first(name: "content-type") ?? "no content type")"
    }
}
