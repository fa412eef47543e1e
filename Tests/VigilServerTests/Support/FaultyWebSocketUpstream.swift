import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization
import VigilCore
import VigilSources

/// A WebSocket camera on 127.0.0.1 (one JPEG per binary message) that
/// misbehaves on request. Paths: `/live` upgrades; `/auth` answers 401,
/// `/error` 500, `/html` an HTML page, anything else 404.
final class FaultyWebSocketUpstream: Sendable {
    enum Behaviour: Sendable {
        case stream
        /// `after` frames, then a normal close.
        case closeAfter(Int)
        /// `after` frames, then nothing but the connection stays open and the
        /// WebSocket layer still reads (and answers pings).
        case zombie(after: Int)
        /// Text heartbeats only: alive, but never a frame.
        case textOnly
        /// Non-JPEG binary messages and truncated JPEGs between good frames.
        case damaged
        /// One message larger than the client's limit, then frames.
        case oversize
    }

    private struct State {
        var behaviour: Behaviour = .stream
        /// Behaviours for the next connections, in order; then `behaviour`.
        var script: [Behaviour] = []
        var accepted = 0
        var open = 0
    }

    private let state = Mutex(State())
    let frames: [ByteBuffer]
    let big: ByteBuffer
    private let server = Mutex<Task<Void, Never>?>(nil)
    private let portBox = Mutex<Int>(0)

    var port: Int { portBox.withLock { $0 } }
    var accepted: Int { state.withLock { $0.accepted } }
    var openConnections: Int { state.withLock { $0.open } }
    var behaviour: Behaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    /// The next connections follow these behaviours, one each, in order.
    func script(_ behaviours: [Behaviour]) {
        state.withLock { $0.script = behaviours }
    }

    init() async throws {
        let renderer = try TestPatternRenderer(label: "ws", width: 160, height: 120, quality: 60)
        frames = try (0..<10).map { try renderer.render(index: $0).buffer }
        let large = try TestPatternRenderer(label: "big", width: 640, height: 480, quality: 95)
        big = try large.render(index: 0, noise: 40).buffer
        try await start(port: 0)
    }

    /// Starts listening (again) on `port`; 0 picks one.
    func start(port: Int) async throws {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let router = Router()
        router.get("/auth") { _, _ -> Response in Response(status: .unauthorized) }
        router.get("/error") { _, _ -> Response in Response(status: .internalServerError) }
        router.get("/html") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: "<html>login</html>")))
        }
        var logger = Logger(label: "upstream")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade { request, _, _ in
                guard request.path?.hasPrefix("/live") == true else { return .dontUpgrade }
                let behaviour = self.state.withLock { state -> Behaviour in
                    state.accepted += 1
                    return state.script.isEmpty ? state.behaviour : state.script.removeFirst()
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    self.state.withLock { $0.open += 1 }
                    defer { self.state.withLock { $0.open -= 1 } }
                    try await self.serve(behaviour, inbound: inbound, outbound: outbound)
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let task = Task {
            try? await app.runService(gracefulShutdownSignals: [])
            continuation.finish()
        }
        server.withLock { $0 = task }
        for await bound in stream {
            portBox.withLock { $0 = bound }
            return
        }
        throw HTTPTestError(description: "websocket upstream did not start")
    }

    /// Stops the server: connections are closed and new ones refused.
    func stop() async {
        let task = server.withLock { state -> Task<Void, Never>? in
            defer { state = nil }
            return state
        }
        task?.cancel()
        await task?.value
    }

    private func serve(
        _ behaviour: Behaviour, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        var index = 0
        while !Task.isCancelled {
            switch behaviour {
            case .closeAfter(let after) where index >= after:
                return
            case .zombie(let after) where index >= after:
                for try await _ in inbound {}
                return
            case .textOnly:
                try await outbound.write(.text("{\"type\":\"ping\"}"))
                try await Task.sleep(for: .milliseconds(20))
                continue
            case .damaged where index % 3 == 1:
                try await outbound.write(.binary(ByteBuffer(string: "this is not a jpeg")))
                var cut = frames[index % frames.count]
                cut = cut.getSlice(at: cut.readerIndex, length: cut.readableBytes / 2)!
                try await outbound.write(.binary(cut))
            case .oversize where index == 2:
                try await outbound.write(.binary(big))
            default:
                break
            }
            try await outbound.write(.text("{\"type\":\"state\"}"))
            try await outbound.write(.binary(frames[index % frames.count]))
            index += 1
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
