import NIOCore
import VigilCore
import VigilSources

/// Real JPEGs made with the test-pattern encoder, plus hand-built streams.
enum JPEGFixtures {
    /// `count` distinct JPEGs of the given size.
    static func frames(count: Int, width: Int = 64, height: Int = 48, quality: Int = 50) throws -> [[UInt8]] {
        let renderer = try TestPatternRenderer(label: "t", width: width, height: height, quality: quality)
        return try (0..<count).map { try bytes(renderer.render(index: $0 * 7)) }
    }

    static func bytes(_ jpeg: ParsedJPEG) -> [UInt8] {
        jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
    }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] {
        buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes)!
    }

    /// `main` with an APP1 (EXIF) segment right after SOI that embeds `thumbnail`,
    /// SOI and EOI included, the way cameras store EXIF thumbnails.
    static func withExifThumbnail(_ main: [UInt8], thumbnail: [UInt8]) -> [UInt8] {
        var payload = Array("Exif".utf8) + [0, 0]
        payload += [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00]  // minimal TIFF header
        payload += thumbnail
        let length = payload.count + 2
        var out: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)]
        out += payload
        out += main[2...]
        return out
    }

    /// A hand-built baseline JPEG whose entropy data has stuffed bytes, restart
    /// markers and fill bytes (the parser does not decode, it frames).
    static func syntheticWithRestarts(width: Int, height: Int) -> [UInt8] {
        var out: [UInt8] = [0xFF, 0xD8]
        // COM segment containing FF D9, which must not end the frame.
        out += [0xFF, 0xFE, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD8]
        // DRI
        out += [0xFF, 0xDD, 0x00, 0x04, 0x00, 0x10]
        // SOF0: length 11, precision 8, height, width, 1 component
        out += [0xFF, 0xC0, 0x00, 0x0B, 0x08, UInt8(height >> 8), UInt8(height & 0xFF)]
        out += [UInt8(width >> 8), UInt8(width & 0xFF), 0x01, 0x01, 0x11, 0x00]
        // SOS: length 8, 1 component
        out += [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]
        // Entropy data: stuffed FF00, restart markers, fill bytes before a marker.
        out += [0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0xFF, 0x00, 0xFF, 0x00]
        out += [0x9A, 0xFF, 0xD1, 0xBC, 0xFF, 0xFF, 0xD2, 0xDE, 0xFF, 0x00]
        out += [0xFF, 0xD9]
        return out
    }
}

/// Feeds `chunks` to a parser and collects what it emits.
func parse(_ chunks: [[UInt8]], maxFrameBytes: Int = 1 << 20) -> ([ParsedJPEG], JPEGFrameParser.Statistics) {
    var parser = JPEGFrameParser(maxFrameBytes: maxFrameBytes)
    var frames: [ParsedJPEG] = []
    for chunk in chunks {
        chunk.withUnsafeBytes { parser.feed($0) { frames.append($0) } }
    }
    return (frames, parser.statistics)
}
