import Foundation
import NIOCore
import Synchronization
import Testing
import VigilSources

@testable import VigilCore

/// The whole motion path with real parts: frames made by the test-pattern
/// encoder, real scaled decoding and analysis tasks, a real SQLite file and
/// real clip files in a temp dir. Frames carry synthetic capture times (10 fps)
/// so every rule is checked frame by frame; each analysed frame is awaited
/// before the next is offered, so the analysis never skips one here.
@Suite struct MotionMonitorTests {
    static let fps = 10

    /// 320x240 grey room; a dark 40x40 square at `square`; flicker of at most
    /// `flicker` levels per pixel plus a global brightness wobble.
    static func scene(square: (x: Int, y: Int)? = nil, flicker: Int = 0, seed: UInt64 = 1) -> ParsedJPEG {
        var canvas = RGBCanvas(width: 320, height: 240, fill: (120, 120, 120))
        canvas.fillRect(x: 0, y: 200, width: 320, height: 40, color: (60, 80, 60))
        if let square { canvas.fillRect(x: square.x, y: square.y, width: 40, height: 40, color: (20, 20, 20)) }
        if flicker > 0 {
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            let global = Int(seed % 7) - 3
            for index in stride(from: 0, to: canvas.pixels.count, by: 3) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                let delta = Int(state % UInt64(2 * flicker + 1)) - flicker + global
                for channel in 0..<3 {
                    canvas.pixels[index + channel] = UInt8(clamping: Int(canvas.pixels[index + channel]) + delta)
                }
            }
        }
        return try! JPEGEncoder(quality: 85).encode(canvas)
    }

    /// A monitor with its archive in a temp dir, fed frame by frame.
    final class Rig {
        let dir: String
        let store: SQLiteStore
        let archive: MotionArchive
        let monitor: MotionMonitor
        let bus = ChangeFeed()
        let base = ContinuousClock.now
        let baseWall = Date().timeIntervalSince1970
        var index = 0
        var analysed = 0
        var sent: [Int: ByteBuffer] = [:]

        init(_ configure: (inout MotionConfig) -> Void) throws {
            dir = NSTemporaryDirectory() + "vigil-motion-\(UUID().uuidString)"
            store = try SQLiteStore(directory: DataDirectory(dir))
            archive = try MotionArchive(
                dir: dir + "/events", store: store, config: MotionEventsConfig(), logger: .init(label: "test"))
            var config = MotionConfig()
            config.enabled = true
            config.analysisFps = 5
            config.threshold = 1.0
            config.noiseLevel = 32
            config.eventGap = .milliseconds(1950)
            config.preCapture = .milliseconds(950)
            config.postCapture = .milliseconds(950)
            configure(&config)
            monitor = MotionMonitor(
                camera: "cam", config: config, maxFrameAge: .seconds(2), archive: archive, feed: bus, hooks: nil,
                logger: .init(label: "test"))
            monitor.start()
        }

        deinit { try? FileManager.default.removeItem(atPath: dir) }

        func wall(_ i: Int) -> Double { baseWall + Double(i) / Double(MotionMonitorTests.fps) }

        /// Offers the next frame; every second one (5 of 10 fps) is analysed, awaited.
        func feed(_ jpeg: ParsedJPEG) async throws {
            let i = index
            index += 1
            let frame = Frame(
                camera: "cam", seq: UInt64(i + 1), jpeg: jpeg.buffer, width: jpeg.width, height: jpeg.height,
                capturedAt: base + .milliseconds(i * 1000 / MotionMonitorTests.fps), wallTime: wall(i))
            sent[i] = frame.jpeg
            monitor.offer(frame)
            if i % 2 == 0 {
                analysed += 1
                let target = analysed
                try await waitFor("frame \(i) analysed") { self.monitor.stats.analysed >= target }
            }
        }

        func feed(_ count: Int, _ make: (Int) -> ParsedJPEG) async throws {
            for _ in 0..<count { try await feed(make(index)) }
        }

        func finish() async throws -> [MotionEventRecord] {
            monitor.finish()
            await monitor.waitUntilDone()
            return try store.motionEvents(camera: nil, since: nil, limit: 100).reversed()
        }

        func clip(_ record: MotionEventRecord) throws -> [ClipReader.Part] {
            let reader = try ClipReader(path: archive.path(try #require(record.clip)))
            var parts: [ClipReader.Part] = []
            while let part = try reader.next() { parts.append(part) }
            return parts
        }
    }

    static func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    struct TestTimeout: Error { let what: String }

    static func moving(_ i: Int) -> ParsedJPEG { scene(square: (20 + (i % 30) * 8, 60)) }

    @Test func aStillSceneMakesNoEvent() async throws {
        let rig = try Rig { _ in }
        let still = Self.scene(square: (100, 100))
        try await rig.feed(100) { _ in still }
        #expect(try await rig.finish().isEmpty)
        #expect(rig.monitor.stats.analysed == 50)
        #expect(rig.monitor.stats.lastPercent == 0)
    }

    @Test func flickerBelowNoiseLevelMakesNoEvent() async throws {
        let rig = try Rig { _ in }
        try await rig.feed(100) { i in Self.scene(square: (100, 100), flicker: 12, seed: UInt64(i + 1)) }
        #expect(try await rig.finish().isEmpty)
        #expect(rig.monitor.stats.lastPercent < 1.0)
    }

    /// Frames 0-59 still, 60-89 a moving square, then still. Analysis takes
    /// the even frames: motion from frame 60 to 88. Clip: 9 pre-capture
    /// frames (51-59, within 0.95 s), the motion frames, and post-capture
    /// up to frame 97 (88 + 0.95 s); the event ends at frame 108 (1.95 s gap).
    @Test func aMovingSquareMakesExactlyOneEventWithItsPreCaptureFrames() async throws {
        let rig = try Rig { _ in }
        let still = Self.scene()
        try await rig.feed(60) { _ in still }
        try await rig.feed(30, Self.moving)
        try await rig.feed(40) { _ in still }
        let events = try await rig.finish()
        try #require(events.count == 1)
        let event = events[0]
        #expect(event.status == .complete)
        #expect(event.endReason == "no_motion")
        #expect(abs(event.startedAt - rig.wall(60)) < 0.001, "starts at the first motion frame")
        #expect(abs((event.firstFrameAt ?? 0) - rig.wall(51)) < 0.001, "first saved frame: pre-capture")
        #expect(abs((event.endedAt ?? 0) - rig.wall(97)) < 0.001, "last saved frame: end of post-capture")
        #expect(event.frames == 47)
        #expect(event.preFrames == 9)
        #expect(event.peakPercent > 1.0)
        #expect(!event.noFreshFrame && event.staleGaps == 0 && event.droppedFrames == 0)
        let parts = try rig.clip(event)
        #expect(parts.count == 47)
        for (offset, part) in parts.enumerated() {
            #expect(part.jpeg == rig.sent[51 + offset], "frame \(51 + offset) saved as it came, in order")
            #expect(abs(part.timestamp - rig.wall(51 + offset)) < 0.001)
        }
        let thumbnail = try Data(contentsOf: URL(fileURLWithPath: rig.archive.path(try #require(event.thumbnail))))
        let motionFrames = (60...88).compactMap { rig.sent[$0] }.map { Data($0.readableBytesView) }
        #expect(motionFrames.contains(thumbnail), "the thumbnail is a frame with motion")
        let clipSize = try FileManager.default.attributesOfItem(atPath: rig.archive.path(event.clip!))[.size] as! Int
        #expect(event.bytes == Int64(clipSize + thumbnail.count))
    }

    @Test func motionInsideTheMaskMakesNoEvent() async throws {
        // The square moves within x 20...300 of 320 and y 60...100 of 240.
        let rig = try Rig { $0.masks = [MotionMask(x: 0, y: 20, width: 100, height: 30)] }
        let still = Self.scene()
        try await rig.feed(20) { _ in still }
        try await rig.feed(30, Self.moving)
        try await rig.feed(20) { _ in still }
        #expect(try await rig.finish().isEmpty)
    }

    @Test func burstsCloserThanTheEventGapMakeOneEventFurtherApartTwo() async throws {
        let still = Self.scene()
        let close = try Rig { _ in }
        try await close.feed(20) { _ in still }
        try await close.feed(10, Self.moving)
        try await close.feed(10) { _ in still }  // 1 s: within the 1.95 s gap
        try await close.feed(10, Self.moving)
        try await close.feed(40) { _ in still }
        let one = try await close.finish()
        #expect(one.count == 1)
        // Pre-capture 11-19, motion 20-29, post-capture to 37 (28 + 0.95 s);
        // the second burst takes the frames since then from the ring (38-39),
        // then 40-49 and post-capture to 57: every frame 11-57 once, in order.
        try #require(one.count == 1)
        #expect(one[0].frames == 47)
        #expect(try close.clip(one[0]).map(\.jpeg) == (11...57).map { close.sent[$0]! })

        let far = try Rig { _ in }
        try await far.feed(20) { _ in still }
        try await far.feed(10, Self.moving)
        try await far.feed(40) { _ in still }  // 4 s: longer than the gap
        try await far.feed(10, Self.moving)
        try await far.feed(40) { _ in still }
        let two = try await far.finish()
        #expect(two.count == 2)
        #expect(two.allSatisfy { $0.status == .complete && $0.endReason == "no_motion" })
        if two.count == 2 { #expect(two[0].startedAt < two[1].startedAt) }
    }

    @Test func anEventLongerThanMaxEventDurationIsSplit() async throws {
        let rig = try Rig { $0.maxEventDuration = .seconds(2) }
        try await rig.feed(10) { _ in Self.scene() }
        try await rig.feed(45, Self.moving)
        try await rig.feed(40) { _ in Self.scene() }
        let events = try await rig.finish()
        #expect(events.count == 3)
        #expect(events.first?.endReason == "max_duration")
        #expect(events.last?.endReason == "no_motion")
    }

    @Test func shutdownDuringAnEventCompletesItsFiles() async throws {
        let rig = try Rig { _ in }
        try await rig.feed(10) { _ in Self.scene() }
        try await rig.feed(10, Self.moving)
        let events = try await rig.finish()
        try #require(events.count == 1)
        #expect(events[0].status == .complete && events[0].endReason == "shutdown")
        #expect(try rig.clip(events[0]).count == events[0].frames)
    }

    @Test func thePreCaptureRingIsBoundedByBytes() async throws {
        let still = Self.scene()
        let rig = try Rig {
            $0.preCapture = .seconds(30)
            $0.preCaptureMaxBytes =
                FrameRing.cost(of: Frame(camera: "c", seq: 0, jpeg: still.buffer, width: 1, height: 1)) * 5 + 10
        }
        try await rig.feed(100) { _ in still }
        #expect(rig.monitor.stats.ringFrames == 5)
        #expect(rig.monitor.stats.ringBytes <= rig.monitor.config.preCaptureMaxBytes)
        _ = try await rig.finish()
    }

    /// Frames offered faster than they can be analysed: offering never
    /// waits for the analysis, the frames it could not take are skipped
    /// (counted), none is queued for it.
    @Test func aSlowAnalysisSkipsFramesInsteadOfQueueingThem() async throws {
        let rig = try Rig { $0.analysisFps = 60 }
        var canvas = RGBCanvas(width: 1920, height: 1080, fill: (90, 90, 90))
        canvas.fillRect(x: 100, y: 100, width: 400, height: 400, color: (200, 200, 200))
        let big = try JPEGEncoder(quality: 95).encode(canvas)
        for i in 0..<300 {
            rig.monitor.offer(
                Frame(
                    camera: "cam", seq: UInt64(i + 1), jpeg: big.buffer, width: 1920, height: 1080,
                    capturedAt: rig.base + .milliseconds(i * 20)))
        }
        try await Self.waitFor("the analysis idle") {
            let stats = rig.monitor.stats
            return stats.analysed + stats.skipped == 300
        }
        let stats = rig.monitor.stats
        #expect(stats.skipped > 0, "frames skipped while the analysis was busy")
        #expect(stats.analysed > 0)
        _ = try await rig.finish()
    }

    /// The camera went stale before the event could take its frames (the
    /// analysis of the motion frame came late): nothing old is saved, the
    /// event says `no_fresh_frame`, and it records the frames that come back.
    @Test func anEventStartingWhileTheCameraIsStaleSavesNothingOld() async throws {
        let rig = try Rig { _ in }
        let maxFrameAge = rig.monitor.maxFrameAge
        // Frames that were fresh on arrival, then the camera stops sending.
        let scenes = (0..<10).map { Self.scene(square: $0 == 9 ? (100, 60) : nil) }
        let arrived = ContinuousClock.now - maxFrameAge / 2
        var old: Frame?
        for i in 0..<10 {
            let jpeg = scenes[i]
            let frame = Frame(
                camera: "cam", seq: UInt64(i + 1), jpeg: jpeg.buffer, width: jpeg.width, height: jpeg.height,
                capturedAt: arrived + .milliseconds(i * 20), wallTime: rig.baseWall - 10 + Double(i) * 0.02)
            rig.monitor.offer(frame)
            old = frame
        }
        #expect(rig.monitor.stats.ringFrames == 10)
        // Time passes: every frame the monitor holds is now older than max_frame_age.
        try await Task.sleep(until: arrived + maxFrameAge + .milliseconds(300))
        // The motion frame's analysis result arrives only now.
        rig.monitor.handle(50, frame: try #require(old))
        #expect(rig.monitor.stats.inEvent)
        #expect(rig.monitor.stats.ringFrames == 0, "the old frames are dropped, not saved")
        // Frames come back, with motion, then the scene is still long enough to end the event.
        let back = Date().timeIntervalSince1970
        for i in 0..<40 {
            let jpeg = i < 10 ? Self.moving(i) : Self.scene()
            rig.monitor.offer(
                Frame(
                    camera: "cam", seq: UInt64(100 + i), jpeg: jpeg.buffer, width: jpeg.width, height: jpeg.height,
                    capturedAt: .now + .milliseconds(i * 100), wallTime: back + Double(i) * 0.1))
        }
        let events = try await rig.finish()
        try #require(events.count == 1)
        let event = events[0]
        #expect(event.noFreshFrame)
        #expect(event.preFrames == 0)
        #expect(event.staleGaps >= 1)
        #expect(event.frames > 0, "it records again when frames return")
        #expect(try rig.clip(event).allSatisfy { $0.timestamp >= back - 0.001 }, "no frame from before the stall")
    }

    @Test func hooksWaitInABoundedQueueAndAreKilledAtTheirTimeout() async throws {
        let outcomes = OutcomeLog()
        let hooks = HookRunner(capacity: 2, concurrency: 1, logger: .init(label: "test")) { name, failure in
            outcomes.add(name, failure)
        }
        hooks.start()
        let hang = HookConfig.command(argv: ["/bin/sh", "-c", "cat > /dev/null; exec sleep 30"], timeout: .seconds(1))
        hooks.run(hang, name: "hook 0", payload: "{}")
        try await Self.waitFor("the first hook running") { hooks.waiting == 0 }
        for i in 1..<5 { hooks.run(hang, name: "hook \(i)", payload: "{\"n\": \(i)}") }
        // One runs, two wait, two are dropped.
        #expect(hooks.dropped == 2)
        try await Self.waitFor("three hooks done") { outcomes.count == 3 }
        for (_, failure) in outcomes.all {
            #expect(failure?.contains("timeout") == true, "\(failure ?? "nil")")
        }
        await hooks.shutdown(grace: .seconds(5))
    }

    final class OutcomeLog: Sendable {
        private let items = Mutex<[(String, String?)]>([])
        func add(_ name: String, _ failure: String?) { items.withLock { $0.append((name, failure)) } }
        var count: Int { items.withLock { $0.count } }
        var all: [(String, String?)] { items.withLock { $0 } }
    }
}
