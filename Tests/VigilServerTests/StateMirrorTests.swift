import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization
import Testing
import VigilAPI
import VigilClient
import VigilCore

/// `StateMirror`'s version rules against an events socket that sends exactly
/// what a test scripts: old news is ignored, a gap drops the connection and
/// the next `hello` replaces everything.
@Suite(.serialized, .timeLimit(.minutes(2))) struct StateMirrorTests {
    /// A WebSocket server on 127.0.0.1 whose `/api/v1/events` sends each
    /// connection its own list of messages, then stays open and silent.
    final class ScriptedEvents: @unchecked Sendable {
        private let scripts: Mutex<[[ServerMessage]]>
        private let accepted = Mutex(0)
        private let task = Mutex<Task<Void, Never>?>(nil)
        /// Set once, before the initializer returns.
        private(set) var port = 0

        var connections: Int { accepted.withLock { $0 } }

        init(_ scripts: [[ServerMessage]]) async throws {
            self.scripts = Mutex(scripts)
            var logger = Logger(label: "scripted-events")
            logger.logLevel = .critical
            let (bound, continuation) = AsyncStream<Int>.makeStream()
            let app = Application(
                router: Router(),
                server: .http1WebSocketUpgrade { request, _, _ in
                    guard request.path == APIPath.eventsSocket else { return .dontUpgrade }
                    let script = self.scripts.withLock { $0.isEmpty ? [] : $0.removeFirst() }
                    self.accepted.withLock { $0 += 1 }
                    return .upgrade([:]) { inbound, outbound, _ in
                        for message in script { try await outbound.write(.text(WireJSON.text(message))) }
                        for try await _ in inbound {}
                    }
                },
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
                logger: logger)
            task.withLock { $0 = Task { try? await app.runService(gracefulShutdownSignals: []) } }
            for await port in bound {
                self.port = port
                return
            }
        }

        func stop() async {
            let running = task.withLock { $0 }
            running?.cancel()
            await running?.value
        }
    }

    static func camera(_ phase: CameraPhase, version: UInt64) -> CameraState {
        CameraState(
            id: "alpha", kind: "testpattern", desired: .running, phase: phase, since: "2026-11-30T00:00:00.000Z",
            version: version, fps: 10, clients: 0, restarts: 0)
    }

    static func hello(_ server: String, version: UInt64, phase: CameraPhase) -> ServerMessage {
        .hello(
            .init(
                serverID: server, startedAt: "2026-11-30T00:00:00.000Z", version: version,
                cameras: [camera(phase, version: version)]))
    }

    @Test func oldNewsIsIgnoredAndAGapStartsOver() async throws {
        let events = try await ScriptedEvents([
            [
                Self.hello("one", version: 1, phase: .live),
                .state(version: 2, camera: Self.camera(.stale, version: 2)),
                .state(version: 2, camera: Self.camera(.recovering, version: 2)),  // old news
                .state(version: 4, camera: Self.camera(.stopped, version: 4)),  // version 3 is missing
            ],
            [
                Self.hello("one", version: 10, phase: .live),
                .state(version: 11, camera: Self.camera(.capturing, version: 11)),
                .ping(version: 11),
            ],
        ])
        defer { Task { await events.stop() } }
        let mirror = StateMirror(
            client: try VigilClient(url: "http://127.0.0.1:\(events.port)"),
            backoff: Backoff(initial: .milliseconds(50), max: .milliseconds(100)))
        let changes = mirror.changes()
        let running = Task { await mirror.run() }
        defer { running.cancel() }

        let outcome = await withTimeout(.seconds(20)) {
            var seen: [StateMirror.Change] = []
            for await change in changes {
                seen.append(change)
                if case .camera(let camera) = change, camera.phase == .capturing { break }
            }
            return seen
        }
        guard case .finished(let seen) = outcome else {
            Issue.record("the second connection's events never came: \(mirror.snapshot)")
            return
        }
        let phases = seen.compactMap { if case .camera(let camera) = $0 { camera.phase } else { nil } }
        #expect(phases == [.stale, .capturing], "old news or the event after a gap was applied: \(phases)")
        let dropped = seen.compactMap { if case .disconnected(let reason) = $0 { reason } else { nil } }
        #expect(dropped == ["version 4 follows 2: something was missed"], "\(dropped)")
        let replacements = seen.filter { if case .replaced = $0 { true } else { false } }.count
        #expect(replacements == 2)
        #expect(mirror.snapshot.version == 11 && mirror.snapshot.cameras["alpha"]?.phase == .capturing)
        #expect(mirror.snapshot.connected)
        #expect(events.connections == 2)
    }
}
