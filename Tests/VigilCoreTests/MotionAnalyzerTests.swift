import NIOCore
import Testing
import VigilCore

/// Scaled grayscale decoding and the background comparison, on JPEGs made
/// with the same encoder the test pattern uses.
@Suite struct MotionAnalyzerTests {
    /// A grey room with a dark square at `square` (nil: empty), and optional
    /// per-pixel flicker of at most `flicker` levels.
    static func scene(square: (x: Int, y: Int)?, flicker: Int = 0, seed: UInt64 = 1) throws -> ByteBuffer {
        var canvas = RGBCanvas(width: 1280, height: 720, fill: (120, 120, 120))
        canvas.fillRect(x: 0, y: 600, width: 1280, height: 120, color: (60, 80, 60))
        if let square {
            canvas.fillRect(x: square.x, y: square.y, width: 160, height: 160, color: (20, 20, 20))
        }
        if flicker > 0 {
            var state = seed
            for index in stride(from: 0, to: canvas.pixels.count, by: 3) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                let delta = Int(state % UInt64(2 * flicker + 1)) - flicker
                for channel in 0..<3 {
                    canvas.pixels[index + channel] = UInt8(clamping: Int(canvas.pixels[index + channel]) + delta)
                }
            }
        }
        return try JPEGEncoder(quality: 85).encode(canvas).buffer
    }

    @Test func decodesAt160PixelsWideFor720p() throws {
        let decoder = try GrayDecoder()
        let image = try decoder.decode(try Self.scene(square: nil))
        #expect(image.width == 160 && image.height == 90, "1/8 of 1280x720")
        #expect(image.pixels.count == 160 * 90)
        #expect(abs(Int(image.pixels[10 * 160 + 10]) - 120) < 8, "grey stays grey")
        let small = try JPEGEncoder(quality: 85).encode(RGBCanvas(width: 320, height: 240)).buffer
        #expect(try decoder.decode(small).width == 120, "320 wide: 3/8, the largest reduction keeping >= 120")
        let tiny = try JPEGEncoder(quality: 85).encode(RGBCanvas(width: 100, height: 80)).buffer
        #expect(try decoder.decode(tiny).width == 100, "never upscaled")
    }

    @Test func aStillSceneAndSensorNoiseAreNotMotion() throws {
        let decoder = try GrayDecoder()
        let analyzer = MotionAnalyzer(noiseLevel: 32)
        let still = try decoder.decode(try Self.scene(square: (200, 200)))
        for _ in 0..<5 {
            #expect(analyzer.analyze(still).changed == 0)
        }
        for seed in 1...5 {
            let noisy = try decoder.decode(try Self.scene(square: (200, 200), flicker: 20, seed: UInt64(seed)))
            #expect(analyzer.analyze(noisy).percent < 0.5, "flicker below noise_level")
        }
    }

    @Test func aMovingSquareIsMotionUnlessMasked() throws {
        let decoder = try GrayDecoder()
        let analyzer = MotionAnalyzer(noiseLevel: 32)
        let masked = MotionAnalyzer(noiseLevel: 32, masks: [MotionMask(x: 0, y: 0, width: 50, height: 100)])
        var samples: [Double] = []
        var maskedSamples: [Double] = []
        for step in 0..<6 {
            let image = try decoder.decode(try Self.scene(square: (100 + step * 60, 200)))
            samples.append(analyzer.analyze(image).percent)
            maskedSamples.append(masked.analyze(image).percent)
        }
        #expect(samples[0] == 0, "the first picture only becomes the background")
        for percent in samples.dropFirst() {
            #expect(percent > 1.5, "a 160x160 square moving 60 px changes well over 1.5%: \(percent)")
        }
        for percent in maskedSamples {
            #expect(percent == 0, "all the movement is in the masked left half: \(percent)")
        }
        let compared = masked.analyze(try decoder.decode(try Self.scene(square: nil))).compared
        #expect(compared == 80 * 90, "the mask removes the left half from the comparison")
    }

    @Test func aChangeThatStaysIsAbsorbedIntoTheBackground() throws {
        let decoder = try GrayDecoder()
        let analyzer = MotionAnalyzer(noiseLevel: 32, adaptation: 0.2)
        _ = analyzer.analyze(try decoder.decode(try Self.scene(square: nil)))
        let parked = try decoder.decode(try Self.scene(square: (600, 300)))
        let first = analyzer.analyze(parked).percent
        var last = first
        for _ in 0..<20 { last = analyzer.analyze(parked).percent }
        #expect(first > 1.5 && last == 0, "\(first)% then \(last)%")
    }
}
