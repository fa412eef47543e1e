/// A rectangle of the picture, in percent of its width and height, so the
/// same mask fits every resolution and every analysis scale.
public struct MotionMask: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// How much of a picture changed.
public struct MotionSample: Sendable, Equatable {
    /// Pixels whose difference from the background exceeded `noise_level`.
    public var changed: Int
    /// Pixels compared (those outside the masks).
    public var compared: Int
    /// `changed` in percent of `compared` (Motion's `threshold` unit).
    public var percent: Double { compared == 0 ? 0 : Double(changed) * 100 / Double(compared) }
}

/// Compares grayscale pictures with a background that adapts slowly (a
/// running average), counting the pixels that differ by more than
/// `noiseLevel`, outside the masks. Sensor noise below `noiseLevel` never
/// counts; a change that stays (a parked car, a light switched on) is
/// absorbed into the background within a few seconds of samples.
///
/// Memory: one float per analysed pixel (160x90 at 1/8 of 720p: 58 KB).
public final class MotionAnalyzer {
    public let noiseLevel: Int
    public let masks: [MotionMask]
    /// Weight of each new picture in the background.
    public let adaptation: Float
    private var background: [Float] = []
    private var ignored: [Bool] = []
    private var width = 0
    private var height = 0

    public init(noiseLevel: Int, masks: [MotionMask] = [], adaptation: Float = 0.05) {
        self.noiseLevel = noiseLevel
        self.masks = masks
        self.adaptation = adaptation
    }

    /// Compares `image` with the background, then blends it in. The first
    /// picture (or one of a new size) only becomes the background.
    public func analyze(_ image: GrayImage) -> MotionSample {
        guard image.width == width, image.height == height, !background.isEmpty else {
            reset(to: image)
            return MotionSample(changed: 0, compared: ignored.lazy.filter { !$0 }.count)
        }
        let noise = Float(noiseLevel)
        let rate = adaptation
        var changed = 0
        var compared = 0
        image.pixels.withUnsafeBufferPointer { pixels in
            background.withUnsafeMutableBufferPointer { background in
                ignored.withUnsafeBufferPointer { ignored in
                    for index in 0..<pixels.count {
                        let value = Float(pixels[index])
                        let old = background[index]
                        background[index] = old + (value - old) * rate
                        if ignored[index] { continue }
                        compared += 1
                        if abs(value - old) > noise { changed += 1 }
                    }
                }
            }
        }
        return MotionSample(changed: changed, compared: compared)
    }

    private func reset(to image: GrayImage) {
        width = image.width
        height = image.height
        background = image.pixels.map(Float.init)
        ignored = [Bool](repeating: false, count: width * height)
        for mask in masks {
            let x0 = max(0, Int((mask.x / 100 * Double(width)).rounded(.down)))
            let y0 = max(0, Int((mask.y / 100 * Double(height)).rounded(.down)))
            let x1 = min(width, Int(((mask.x + mask.width) / 100 * Double(width)).rounded(.up)))
            let y1 = min(height, Int(((mask.y + mask.height) / 100 * Double(height)).rounded(.up)))
            guard x0 < x1, y0 < y1 else { continue }
            for y in y0..<y1 {
                for x in x0..<x1 { ignored[y * width + x] = true }
            }
        }
    }
}
