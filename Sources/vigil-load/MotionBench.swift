import ArgumentParser
import Foundation
import VigilCore
import VigilSources

/// Cost of motion analysis per frame: the scaled grayscale decode alone,
/// then decode + comparison with the background, on noisy test-pattern
/// frames (as large as real camera frames).
struct MotionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motion", abstract: "Motion analysis cost per frame (decode, decode + compare).")

    @Option(help: "Frames analysed per measurement.")
    var frames = 600

    @Option(help: "Measurements per size; the median is reported.")
    var runs = 5

    func run() throws {
        for (width, height) in [(1280, 720), (1920, 1080)] {
            let renderer = try TestPatternRenderer(label: "bench", width: width, height: height, quality: 85)
            let jpegs = try (0..<30).map { try renderer.render(index: $0 * 7, noise: 14).buffer }
            let decoder = try GrayDecoder()
            let scaled = try decoder.decode(jpegs[0])
            var decodeOnly: [Double] = []
            var withCompare: [Double] = []
            var compareOnly: [Double] = []
            for _ in 0..<runs {
                let clock = ContinuousClock()
                var sink = 0
                let decode = clock.measure {
                    for index in 0..<frames { sink &+= Int(try! decoder.decode(jpegs[index % jpegs.count]).pixels[0]) }
                }
                let analyzer = MotionAnalyzer(noiseLevel: 32)
                let both = clock.measure {
                    for index in 0..<frames {
                        sink &+= analyzer.analyze(try! decoder.decode(jpegs[index % jpegs.count])).changed
                    }
                }
                let images = try jpegs.map { try decoder.decode($0) }
                let compare = clock.measure {
                    for index in 0..<frames { sink &+= analyzer.analyze(images[index % images.count]).changed }
                }
                if sink == Int.min { print(sink) }
                decodeOnly.append(decode.seconds / Double(frames))
                withCompare.append(both.seconds / Double(frames))
                compareOnly.append(compare.seconds / Double(frames))
            }
            let decode = decodeOnly.sorted()[runs / 2]
            let both = withCompare.sorted()[runs / 2]
            let compare = compareOnly.sorted()[runs / 2]
            print(
                String(
                    format:
                        "motion %dx%d (%d KB frames, analysed at %dx%d): scaled decode %.0f us, decode + compare %.0f us, compare alone %.1f us: analysis adds %.1f%% to the decode (target <= 15%%); at 5 fps %.2f%% of a core",
                    width, height, jpegs[0].readableBytes / 1000, scaled.width, scaled.height, decode * 1e6,
                    both * 1e6, compare * 1e6, compare / decode * 100, both * 5 * 100))
            BenchResult(
                ["decode_us_\(height)p": decode * 1e6, "compare_us_\(height)p": compare * 1e6]
            ).print()
        }
    }
}
