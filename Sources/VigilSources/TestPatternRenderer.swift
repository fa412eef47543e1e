import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Draws and encodes test-pattern frames: colour bars, a box moving across
/// them, the camera name, a frame counter and a clock, so that motion and
/// freshness are visible at a glance.
///
/// Not thread-safe: one renderer per producer.
public final class TestPatternRenderer {
    public let width: Int
    public let height: Int
    private let label: String
    private let base: RGBCanvas
    private var canvas: RGBCanvas
    private let encoder: JPEGEncoder

    public init(label: String, width: Int, height: Int, quality: Int) throws {
        self.width = width
        self.height = height
        self.label = label.uppercased()
        var base = RGBCanvas(width: width, height: height, fill: (16, 18, 22))
        let bars: [(UInt8, UInt8, UInt8)] = [
            (192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
            (192, 0, 192), (192, 0, 0), (0, 0, 192),
        ]
        let barWidth = max(1, width / bars.count)
        for (index, color) in bars.enumerated() {
            base.fillRect(x: index * barWidth, y: 0, width: barWidth + 1, height: height * 2 / 3, color: color)
        }
        let steps = 16
        for step in 0..<steps {
            let level = UInt8(step * 255 / (steps - 1))
            base.fillRect(
                x: step * width / steps, y: height * 2 / 3, width: width / steps + 1, height: height / 3,
                color: (level, level, level))
        }
        self.base = base
        self.canvas = base
        self.encoder = try JPEGEncoder(quality: quality)
    }

    /// Renders frame number `index` stamped with `date`. `noise` (0-127) adds
    /// sensor-like grain, which makes JPEGs as large as real camera frames.
    public func render(index: Int, date: Date = Date(), noise: Int = 0) throws -> ParsedJPEG {
        canvas.pixels = base.pixels
        if noise > 0 {
            // Grain needs speed, not quality: xorshift, seeded per frame.
            var state = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15 | 1
            let amplitude = min(127, noise)
            canvas.pixels.withUnsafeMutableBufferPointer { pixels in
                var i = 0
                while i < pixels.count {
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    let bits = state
                    for shift in stride(from: 0, to: 64, by: 8) where i < pixels.count {
                        let delta = Int((bits >> UInt64(shift)) & 0xFF) % (2 * amplitude + 1) - amplitude
                        pixels[i] = UInt8(clamping: Int(pixels[i]) + delta)
                        i += 1
                    }
                }
            }
        }
        let box = max(8, height / 6)
        let travel = max(1, width - box)
        let position = index * max(2, width / 120) % (2 * travel)
        let x = position < travel ? position : 2 * travel - position
        canvas.fillRect(x: x, y: height / 3 - box / 2, width: box, height: box, color: (250, 250, 250))
        canvas.fillRect(x: x + box / 4, y: height / 3 - box / 4, width: box / 2, height: box / 2, color: (230, 40, 40))
        let scale = max(1, height / 90)
        let panelHeight = 9 * scale * 2 + 4 * scale
        canvas.fillRect(x: 0, y: height - panelHeight, width: width, height: panelHeight, color: (0, 0, 0))
        canvas.drawText(
            "\(label) #\(index)", x: 2 * scale, y: height - panelHeight + 2 * scale, scale: scale,
            color: (255, 255, 255))
        canvas.drawText(
            Self.clock(date), x: 2 * scale, y: height - panelHeight + 11 * scale,
            scale: scale, color: (120, 220, 120))
        return try encoder.encode(canvas)
    }

    /// `date` as local HH:mm:ss.SSS (DateFormatter needs ICU).
    static func clock(_ date: Date) -> String {
        let since1970 = date.timeIntervalSince1970
        var seconds = time_t(since1970.rounded(.down))
        let millis = min(999, Int((since1970 - since1970.rounded(.down)) * 1000))
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)"
    }
}
