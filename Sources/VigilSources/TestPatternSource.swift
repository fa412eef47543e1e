import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `kind: testpattern`: synthetic frames generated in-process.
public struct TestPatternSource: FrameSource {
    public let camera: String
    public let config: TestPatternConfig

    public init(camera: String, config: TestPatternConfig) {
        self.camera = camera
        self.config = config
    }

    public func run(into sink: FrameSink) async throws {
        let renderer = try TestPatternRenderer(
            label: camera, width: config.width, height: config.height, quality: config.quality)
        let interval = Duration.milliseconds(Int64((1000 / config.fps).rounded()))
        let clock = ContinuousClock()
        var deadline = clock.now
        var index = 0
        while true {
            try Task.checkCancellation()
            sink.deliver(try renderer.render(index: index))
            index += 1
            deadline = deadline.advanced(by: interval)
            if deadline < clock.now {
                // Fell behind (slow machine): do not try to catch up in a burst.
                deadline = clock.now
            }
            try await Task.sleep(until: deadline, clock: clock)
        }
    }
}
