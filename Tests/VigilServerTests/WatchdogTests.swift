import Foundation
import Logging
import Synchronization
import Testing
import VigilAPI
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// The camera's watchdog and restart policy, with real `vigil fake-camera`
/// child processes as sources.
@Suite(.serialized) struct WatchdogTests {
    let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .error
        return logger
    }()

    func makeCamera(_ arguments: [String], staleAfter: Duration = .milliseconds(800)) -> Camera {
        makeTestCamera(
            .exec(ExecConfig(command: [Binaries.vigil, "fake-camera"] + arguments)), id: "cam", staleAfter: staleAfter,
            logger: logger)
    }

    @Test func stalledCameraIsReplacedByANewProcessAndFramesResume() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let camera = makeCamera(["--fps", "20", "--size", "160x120", "--stall-after", "10", "--pid-file", pidFile])
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()

        // The first process delivers its 10 frames, then stalls; a frame after
        // that can only come from a replacement process.
        _ = try await nextRealFrame(frames) { $0.seq >= 10 }
        let resumed = try await nextRealFrame(frames, timeout: .seconds(20)) { $0.seq > 10 }
        #expect(resumed.seq > 10)
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count >= 2)
        #expect(Set(pids).count == pids.count, "each attempt is a new process")
        #expect(!ProcFS.exists(pid: pids[0]), "the stalled process was killed and reaped")
        let state = await camera.state()
        #expect(state.restarts >= 1)
        #expect(state.lastError?.contains("stale") == true)

        await camera.shutdown()
        for pid in ProcFS.pids(inFile: pidFile) {
            #expect(!ProcFS.exists(pid: pid), "pid \(pid) still exists after shutdown")
        }
    }

    @Test func exitedCameraIsRestarted() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let camera = makeCamera(["--fps", "30", "--size", "160x120", "--exit-after", "5", "--pid-file", pidFile])
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        let later = try await nextRealFrame(frames, timeout: .seconds(20)) { $0.seq > 5 }
        #expect(later.seq > 5)
        let state = await camera.state()
        #expect(state.restarts >= 1)
        #expect(state.lastError?.contains("exited with status 3") == true, "\(state.lastError ?? "nil")")
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count >= 2 && !ProcFS.exists(pid: pids[0]))
        await camera.shutdown()
    }

    @Test func garbageAndTruncatedFramesDoNotStopTheStream() async throws {
        let camera = makeCamera(
            ["--fps", "40", "--size", "160x120", "--garbage-after", "5", "--truncate-every", "4"],
            staleAfter: .seconds(5))
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        var seen = 0
        while seen < 20 {
            let frame = try await nextRealFrame(frames) { _ in true }
            let bytes = frame.jpeg.getBytes(at: frame.jpeg.readerIndex, length: frame.jpeg.readableBytes)!
            #expect(bytes.prefix(2) == [0xFF, 0xD8] && bytes.suffix(2) == [0xFF, 0xD9])
            #expect(frame.width == 160 && frame.height == 120)
            seen += 1
        }
        let state = await camera.state()
        #expect(state.restarts == 0, "garbage must be skipped, not restart the source")
        #expect(state.phase == .live)
        await camera.shutdown()
    }

    @Test func oversizeFrameIsDroppedAndTheStreamGoesOn() async throws {
        var config = CameraConfig(
            id: "cam",
            source: .exec(
                ExecConfig(command: [
                    Binaries.vigil, "fake-camera", "--fps", "30", "--size", "160x120", "--oversize-after", "3",
                ])))
        config.maxFrameBytes = 30_000
        let camera = Camera(
            config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger)
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        for _ in 0..<10 {
            let frame = try await nextRealFrame(frames) { _ in true }
            #expect(frame.width == 160, "the 320x240 oversize frame never comes through")
        }
        #expect(await camera.state().restarts == 0)
        await camera.shutdown()
    }

    @Test func tricklingCameraIsTreatedAsStaleAndReplaced() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let states = StateRecorder()
        var config = CameraConfig(
            id: "cam",
            source: .exec(
                ExecConfig(command: [
                    Binaries.vigil, "fake-camera", "--size", "160x120", "--trickle", "--pid-file", pidFile,
                ])))
        config.staleAfter = .seconds(1)
        config.restart.initialBackoff = .milliseconds(50)
        let camera = Camera(
            config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger,
            onChange: states.record)
        await camera.activate()
        try await states.wait(timeout: .seconds(15)) { $0.restarts >= 2 }
        #expect(await camera.state().lastError?.hasPrefix("stale") == true)
        await camera.shutdown()
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count >= 2 && pids.allSatisfy { !ProcFS.exists(pid: $0) })
    }

    @Test func aCameraThatKeepsFailingIsRetriedForeverWithCappedBackoff() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        var config = CameraConfig(
            id: "cam",
            source: .exec(
                ExecConfig(command: [Binaries.vigil, "fake-camera", "--exit-after", "0", "--pid-file", pidFile])))
        config.restart.initialBackoff = .milliseconds(5)
        config.restart.maxBackoff = .milliseconds(30)
        let states = StateRecorder()
        let camera = Camera(
            config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger,
            onChange: states.record)
        await camera.activate()
        try await states.wait(timeout: .seconds(60)) { $0.restarts >= 25 }
        let state = await camera.state()
        #expect(state.desired == .running)
        #expect(state.phase == .recovering || state.phase == .starting)
        #expect(state.lastError?.contains("exited with status 3") == true)
        await camera.shutdown()
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count >= 25)
        #expect(pids.allSatisfy { !ProcFS.exists(pid: $0) }, "every failed attempt was reaped")
    }

    @Test func missingProgramIsReportedAndRetried() async throws {
        var config = CameraConfig(id: "cam", source: .exec(ExecConfig(command: ["/nonexistent/camera-program"])))
        config.restart.initialBackoff = .milliseconds(5)
        config.restart.maxBackoff = .milliseconds(20)
        let states = StateRecorder()
        let camera = Camera(
            config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger,
            onChange: states.record)
        await camera.activate()
        try await states.wait(timeout: .seconds(30)) { $0.restarts >= 3 }
        let error = await camera.state().lastError ?? ""
        #expect(error.contains("cannot run /nonexistent/camera-program"), "\(error)")
        await camera.shutdown()
    }

    @Test func killedCameraProcessIsReplacedAndNothingLeaks() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let camera = makeCamera(
            ["--fps", "30", "--size", "160x120", "--pid-file", pidFile], staleAfter: .seconds(2))
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        _ = try await nextRealFrame(frames) { $0.seq >= 3 }
        let descriptors = ProcFS.openFileDescriptors()
        let children = ProcFS.children(of: getpid())
        let first = ProcFS.pids(inFile: pidFile)
        #expect(first.count == 1 && children.contains(first[0]))
        kill(first[0], SIGKILL)
        let before = try await nextRealFrame(frames) { _ in true }
        let after = try await nextRealFrame(frames, timeout: .seconds(15)) { $0.seq > before.seq + 1 }
        #expect(after.capturedAt - before.capturedAt <= .seconds(2) + .seconds(2))
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count == 2 && !ProcFS.exists(pid: first[0]), "killed child reaped, a new one started")
        #expect(ProcFS.children(of: getpid()).count == children.count)
        #expect(ProcFS.openFileDescriptors() <= descriptors)
        #expect(await camera.state().lastError?.contains("killed by signal 9") == true)
        await camera.shutdown()
    }

    @Test func hundredExecResetCyclesLeaveNothingBehind() async throws {
        func cycle(_ restarts: Int) async throws {
            var config = CameraConfig(
                id: "cam",
                source: .exec(
                    ExecConfig(command: [Binaries.vigil, "fake-camera", "--size", "64x48", "--exit-after", "1"])))
            config.restart.initialBackoff = .milliseconds(1)
            config.restart.maxBackoff = .milliseconds(2)
            let states = StateRecorder()
            let camera = Camera(
                config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger,
                onChange: states.record)
            await camera.activate()
            try await states.wait(timeout: .seconds(120)) { $0.restarts >= restarts }
            await camera.shutdown()
        }
        // A first short run initialises what lives for the whole process.
        try await cycle(2)
        let descriptors = ProcFS.openFileDescriptors()
        let rss = ProcFS.rss(pid: getpid()) ?? 0
        try await cycle(100)
        #expect(ProcFS.openFileDescriptors() <= descriptors, "descriptors before: \(descriptors)")
        #expect(ProcFS.children(of: getpid()).isEmpty, "no child process left")
        let grown = (ProcFS.rss(pid: getpid()) ?? 0) - rss
        #expect(grown < 4 * 1024 * 1024, "RSS grew by \(grown) bytes over 100 process restarts")
    }

    @Test func childIgnoringSIGTERMIsKilledAfterTheGracePeriod() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        var exec = ExecConfig(command: [
            Binaries.vigil, "fake-camera", "--size", "64x48", "--ignore-sigterm", "--stall-after", "1",
            "--pid-file", pidFile,
        ])
        exec.stopGrace = .milliseconds(500)
        let config = CameraConfig(id: "cam", source: .exec(exec))
        let camera = Camera(config: config, makeSource: SourceFactory.make(for: config, logger: logger), logger: logger)
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        _ = try await nextRealFrame(frames) { _ in true }
        let started = ContinuousClock.now
        _ = try await camera.stop()
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(500), "SIGTERM was ignored, so the grace period ran out: \(took)")
        let pids = ProcFS.pids(inFile: pidFile)
        #expect(pids.count == 1 && !ProcFS.exists(pid: pids[0]), "SIGKILLed and reaped")
        await camera.shutdown()
    }

    @Test func childStderrIsLoggedWithARateLimit() async throws {
        let records = LogCapture()
        let captured = Logger(label: "capture") { _ in records }
        let config = CameraConfig(
            id: "cam",
            source: .exec(
                ExecConfig(command: [Binaries.vigil, "fake-camera", "--size", "64x48", "--stderr-lines", "100"])))
        let camera = Camera(
            config: config, makeSource: SourceFactory.make(for: config, logger: captured), logger: captured)
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        _ = try await nextRealFrame(frames) { _ in true }
        await camera.shutdown()  // ends stderr, which reports what was suppressed
        let lines = records.messages.filter { $0.contains("fake-camera stderr line") }
        #expect(lines.count == 20, "a burst of 20 lines per 10 s, got \(lines.count)")
        #expect(lines.first?.contains("line 0") == true)
        #expect(records.messages.contains { $0.contains("80 more lines suppressed") }, "\(records.messages)")
    }

    @Test func stopEndsTheProcessAndStartBuildsANewOne() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let pidFile = dir.file("pids")
        let camera = makeCamera(["--fps", "20", "--size", "160x120", "--pid-file", pidFile], staleAfter: .seconds(5))
        let frames = FrameMailbox()
        camera.hub.subscribe(frames)
        await camera.activate()
        _ = try await nextRealFrame(frames) { _ in true }
        let stopped = try await camera.stop()
        #expect(stopped.phase == .stopped && stopped.desired == .stopped)
        let first = ProcFS.pids(inFile: pidFile)
        #expect(first.count == 1 && !ProcFS.exists(pid: first[0]))
        let again = try await camera.stop()
        #expect(again.phase == .stopped)
        _ = try await camera.start()
        _ = try await camera.start()
        let lastSeq = camera.hub.latest?.seq ?? 0
        _ = try await nextRealFrame(frames) { $0.seq > lastSeq }
        #expect(ProcFS.pids(inFile: pidFile).count == 2, "start twice is one new process")
        #expect(await camera.state().restarts == 0, "a stop/start is not a failure")
        await camera.shutdown()
    }
}
