import Synchronization

/// The cards MJPEG viewers see about once a second while a camera is not
/// live, each naming the reason ("NO SIGNAL", "STOPPED", "CAPTURING").
///
/// Each card is encoded once per reason and camera and then reused: a
/// placeholder costs no encoding on the viewers' path.
public final class PlaceholderCards: Sendable {
    private let camera: String
    private let width: Int
    private let height: Int
    private let cache = Mutex<[String: ParsedJPEG]>([:])

    public init(camera: String, width: Int = 640, height: Int = 360) {
        self.camera = camera
        self.width = max(64, width)
        self.height = max(48, height)
    }

    /// The JPEG card for `reason` (encoded on first use).
    public func card(for reason: String) -> ParsedJPEG? {
        if let cached = cache.withLock({ $0[reason] }) { return cached }
        guard let encoded = try? Self.render(reason: reason, camera: camera, width: width, height: height)
        else { return nil }
        cache.withLock { $0[reason] = encoded }
        return encoded
    }

    static func render(reason: String, camera: String, width: Int, height: Int) throws -> ParsedJPEG {
        var canvas = RGBCanvas(width: width, height: height, fill: (18, 20, 24))
        let title = reason.uppercased()
        let scale = max(2, min(width / max(1, (title.count * 6 + 4)), height / 20))
        let titleWidth = RGBCanvas.textWidth(title, scale: scale)
        canvas.drawText(
            title, x: (width - titleWidth) / 2, y: height / 2 - 7 * scale,
            scale: scale, color: (230, 230, 230))
        let small = max(1, scale / 3)
        let name = camera.uppercased()
        canvas.drawText(
            name, x: (width - RGBCanvas.textWidth(name, scale: small)) / 2,
            y: height / 2 + 2 * scale, scale: small, color: (140, 150, 160))
        return try JPEGEncoder(quality: 70).encode(canvas)
    }
}
