import NIOCore
import Testing
import VigilCore

@Suite struct MotionDetectorTests {
    /// Samples every 0.2 s (analysis_fps 5) with `percent(t)`; the changes.
    static func run(
        _ detector: inout MotionDetector, until end: Double, _ percent: (Double) -> Double
    ) -> [(Double, MotionDetector.Change)] {
        var changes: [(Double, MotionDetector.Change)] = []
        for step in 0...Int(end * 5) {
            let t = Double(step) / 5  // exact at whole seconds
            if let change = detector.sample(at: t, percent: percent(t)) { changes.append((t, change)) }
        }
        return changes
    }

    @Test func stillnessIsNoEvent() {
        var detector = MotionDetector(threshold: 1.5, eventGap: 5)
        #expect(Self.run(&detector, until: 60) { _ in 0.4 }.isEmpty)
    }

    @Test func oneBurstIsOneEventThatEndsAfterTheGap() {
        var detector = MotionDetector(threshold: 1.5, minimumMotionFrames: 3, eventGap: 5, postCapture: 2)
        let changes = Self.run(&detector, until: 30) { t in (10.0...12.0).contains(t) ? 8 : 0 }
        #expect(changes.count == 2)
        #expect(changes.first?.1 == .started(at: 10.0), "the event starts at its first motion frame")
        #expect(abs((changes.first?.0 ?? 0) - 10.4) < 1e-6, "decided at the third motion frame in a row")
        guard case .ended(let last) = changes.last?.1 else {
            Issue.record("no end")
            return
        }
        #expect(abs(last - 12.0) < 1e-6)
        #expect(abs((changes.last?.0 ?? 0) - 17.0) < 1e-6, "ended event_gap after the last motion")
    }

    @Test func shortBlipsBelowMinimumMotionFramesAreIgnored() {
        var detector = MotionDetector(threshold: 1.5, minimumMotionFrames: 3, eventGap: 5)
        let changes = Self.run(&detector, until: 30) { t in Int((t * 5).rounded()) % 10 < 2 ? 9 : 0 }
        #expect(changes.isEmpty, "two motion frames in a row, never three")
    }

    @Test func burstsCloserThanTheGapAreOneEventFurtherApartTwo() {
        var close = MotionDetector(threshold: 1.5, eventGap: 5)
        let one = Self.run(&close, until: 40) { t in (2.0...3.0).contains(t) || (6.0...7.0).contains(t) ? 5 : 0 }
        #expect(one.filter { if case .started = $0.1 { true } else { false } }.count == 1)
        var apart = MotionDetector(threshold: 1.5, eventGap: 5)
        let two = Self.run(&apart, until: 40) { t in (2.0...3.0).contains(t) || (12.0...13.0).contains(t) ? 5 : 0 }
        #expect(two.filter { if case .started = $0.1 { true } else { false } }.count == 2)
    }

    @Test func framesAreRecordedUntilPostCaptureAfterTheLastMotion() {
        var detector = MotionDetector(threshold: 1.5, eventGap: 10, postCapture: 2)
        _ = detector.sample(at: 1, percent: 5)
        _ = detector.sample(at: 1.2, percent: 0)
        #expect(detector.records(frameAt: 2.9))
        #expect(!detector.records(frameAt: 3.1), "after post_capture, until motion comes back")
        _ = detector.sample(at: 5, percent: 5)
        #expect(detector.records(frameAt: 5.1))
    }

    @Test func theRingIsBoundedBySecondsAndBytesAndSharesBuffers() {
        let start = ContinuousClock.now
        var ring = FrameRing(maxDuration: .seconds(3), maxBytes: 100_000)
        var buffers: [ByteBuffer] = []
        for index in 0..<100 {
            let buffer = ByteBuffer(repeating: UInt8(index), count: 100)
            buffers.append(buffer)
            ring.append(
                Frame(
                    camera: "c", seq: UInt64(index), jpeg: buffer, width: 1, height: 1,
                    capturedAt: start + .milliseconds(index * 100)))
        }
        #expect(ring.count == 31, "3 s at 10 fps, both ends included")
        let cost = FrameRing.cost(of: Frame(camera: "c", seq: 0, jpeg: buffers[0], width: 1, height: 1))
        #expect(cost >= 100 && cost <= 512, "a frame costs its buffer's storage")
        #expect(ring.bytes == 31 * cost)
        let frames = ring.drain()
        #expect(frames.first?.seq == 69 && frames.last?.seq == 99)
        #expect(ring.count == 0 && ring.bytes == 0)

        var small = FrameRing(maxDuration: .seconds(60), maxBytes: cost * 10)
        let made = (0..<50).map { index in
            Frame(
                camera: "c", seq: UInt64(index), jpeg: buffers[index], width: 1, height: 1,
                capturedAt: start + .milliseconds(index * 100))
        }
        for frame in made { small.append(frame) }
        #expect(small.count == 10 && small.bytes == cost * 10, "bounded by bytes")
        let kept = small.drain()
        let shared = kept[0].jpeg.withUnsafeReadableBytes { a in
            made[40].jpeg.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress }
        }
        #expect(shared, "the ring holds the frame's own buffer, not a copy")
    }
}
