import Foundation
import NIOCore
import Synchronization
import Testing
import VigilAPI
import VigilClient
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// `VigilClient.LiveView` and `StateMirror` against a real `vigil serve`
/// that is SIGKILLed and restarted, frozen (a zombie: TCP open, silent),
/// paused by captures, and read by a consumer slower than the camera.
@Suite(.serialized, .timeLimit(.minutes(3))) struct LiveViewTests {
    static let config = """
        cameras:
          alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 15}}
        """

    /// Reads a `LiveView` in a task and keeps what it saw (frames without
    /// their bytes).
    final class Recorder: Sendable {
        struct Entry: Sendable {
            var at: ContinuousClock.Instant
            var event: Kind
        }
        enum Kind: Sendable {
            case frame(camera: String, bytes: Int)
            case state(CameraState)
            case connected(Int)
            case disconnected(String)
        }

        private let entries = Mutex<[Entry]>([])
        private let task = Mutex<Task<Void, Never>?>(nil)

        init(_ view: LiveView) {
            let task = Task { [weak self] in
                for await event in view {
                    let kind: Kind
                    switch event {
                    case .frame(let frame): kind = .frame(camera: frame.camera, bytes: frame.jpeg.readableBytes)
                    case .state(let state): kind = .state(state)
                    case .connected(let attempt): kind = .connected(attempt)
                    case .disconnected(let reason, _): kind = .disconnected(reason)
                    }
                    self?.entries.withLock { $0.append(Entry(at: .now, event: kind)) }
                }
            }
            self.task.withLock { $0 = task }
        }

        var all: [Entry] { entries.withLock { $0 } }
        var frames: Int { all.filter { if case .frame = $0.event { true } else { false } }.count }
        var connects: Int { all.filter { if case .connected = $0.event { true } else { false } }.count }
        var disconnects: [String] {
            all.compactMap { if case .disconnected(let reason) = $0.event { reason } else { nil } }
        }
        /// Frames after the `index`th entry.
        func frames(after index: Int) -> Int {
            all.dropFirst(index).filter { if case .frame = $0.event { true } else { false } }.count
        }
        var phases: [CameraPhase] {
            all.compactMap { if case .state(let state) = $0.event { state.phase } else { nil } }
        }

        func stop() { task.withLock { $0?.cancel() } }
    }

    /// A `LiveView` and a `StateMirror` with short limits, for tests.
    static func watch(_ port: Int, camera: String = "alpha") throws -> (Recorder, StateMirror, Task<Void, Never>) {
        let client = try VigilClient(url: "http://127.0.0.1:\(port)")
        var view = LiveView(client: client, camera: camera)
        view.silenceLimit = .seconds(2)
        view.backoff = Backoff(initial: .milliseconds(100), max: .milliseconds(500))
        let mirror = StateMirror(
            client: client, silenceLimit: .seconds(2),
            backoff: Backoff(initial: .milliseconds(100), max: .milliseconds(500)))
        let running = Task { await mirror.run() }
        return (Recorder(view), mirror, running)
    }

    @Test func bothSurviveASIGKILLedAndRestartedServer() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let first = try VigilProcess(config: Self.config, dir: dir)
        let (live, mirror, running) = try Self.watch(first.port)
        defer {
            live.stop()
            running.cancel()
        }
        let changes = mirror.changes()
        try await waitUntil("frames") { live.frames >= 3 }
        try await waitUntil("the mirror") { mirror.snapshot.cameras["alpha"]?.phase == .live }
        let firstServer = try #require(mirror.snapshot.serverID)

        kill(first.pid, SIGKILL)
        try await waitUntil("the live view notices") { !live.disconnects.isEmpty }
        try await waitUntil("the mirror notices") { !mirror.snapshot.connected }
        let second = try VigilProcess(config: Self.config, dir: dir, port: first.port)
        defer { second.stop() }

        let seen = live.all.count
        try await waitUntil("frames from the new server") { live.frames(after: seen) >= 3 }
        #expect(live.connects >= 2)
        try await waitUntil("the mirror of the new server") {
            mirror.snapshot.serverID != firstServer && mirror.snapshot.cameras["alpha"]?.phase == .live
        }
        var restarted = false
        for await change in changes {
            if case .replaced(let snapshot, serverRestarted: true) = change {
                #expect(snapshot.serverID == mirror.snapshot.serverID)
                restarted = true
                break
            }
        }
        #expect(restarted)
    }

    @Test func aFrozenServerIsAZombieThatIsLeftAndFoundAgain() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(config: Self.config, dir: dir)
        defer { server.stop() }
        let (live, mirror, running) = try Self.watch(server.port)
        defer {
            live.stop()
            running.cancel()
        }
        try await waitUntil("frames") { live.frames >= 3 }
        try await waitUntil("the mirror") { mirror.snapshot.connected }

        kill(server.pid, SIGSTOP)
        try await waitUntil("the live view leaves the zombie") { !live.disconnects.isEmpty }
        #expect(live.disconnects[0].contains("nothing from the server for 2"), "\(live.disconnects)")
        try await waitUntil("the mirror leaves the zombie") { !mirror.snapshot.connected }

        kill(server.pid, SIGCONT)
        let seen = live.all.count
        try await waitUntil("frames again") { live.frames(after: seen) >= 3 }
        try await waitUntil("the mirror again") { mirror.snapshot.connected }
        #expect(mirror.snapshot.cameras["alpha"]?.phase == .live)
    }

    @Test func tenCapturesWithPauseLiveKeepOneConnection() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let renderer = try TestPatternRenderer(label: "still", width: 320, height: 240, quality: 90)
        let still = dir.file("still.jpg")
        try Data(try renderer.render(index: 1).buffer.readableBytesView).write(to: URL(fileURLWithPath: still))
        let script = dir.file("capture.sh")
        try "sleep 0.4\ncp '\(still)' \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        let server = try VigilProcess(
            config: """
                cameras:
                  booth:
                    source:
                      kind: exec
                      command: \(Binaries.fakeCameraCommand(["--fps", "15", "--size", "160x120"]))
                    stale_after: 2s
                    max_frame_age: 1s
                    capture: {command: [/bin/sh, \(script), "{output}"], pause_live: true}
                """, dir: dir)
        defer { server.stop() }
        let client = try VigilClient(url: "http://127.0.0.1:\(server.port)")
        let (live, _, running) = try Self.watch(server.port, camera: "booth")
        defer {
            live.stop()
            running.cancel()
        }
        try await waitUntil("frames") { live.frames >= 3 }
        for index in 1...10 {
            let capture = try await client.takeCapture(camera: "booth")
            #expect(capture.status == .done, "capture \(index): \(capture)")
            let seen = live.all.count
            try await waitUntil("frames after capture \(index)") { live.frames(after: seen) >= 1 }
        }
        #expect(live.connects == 1, "reconnected during captures: \(live.disconnects)")
        #expect(live.disconnects.isEmpty)
        #expect(live.phases.filter { $0 == .capturing }.count >= 10)
    }

    @Test func aSlowConsumerGetsTheNewestFrame() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(
            config: """
                cameras:
                  fast: {source: {kind: testpattern, width: 320, height: 240, fps: 30}}
                """, dir: dir)
        defer { server.stop() }
        let view = LiveView(client: try VigilClient(url: "http://127.0.0.1:\(server.port)"), camera: "fast")
        var ages: [Duration] = []
        for await event in view {
            guard case .frame(let frame) = event else { continue }
            ages.append(frame.age)
            if ages.count == 15 { break }
            // Ten times slower than the camera: a queue would age by 0.3 s a read.
            try await Task.sleep(for: .milliseconds(330))
        }
        let oldest = try #require(ages.max())
        #expect(oldest < .seconds(1), "a frame read \(oldest) after it arrived: \(ages)")
    }
}
