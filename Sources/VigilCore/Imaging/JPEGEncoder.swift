import CTurboJPEG
import NIOCore

/// Errors from libjpeg-turbo.
public struct TurboJPEGError: Error, CustomStringConvertible {
    public let description: String
}

/// Encodes RGB pixels to JPEG with libjpeg-turbo.
///
/// Not thread-safe: one encoder per producing task. The output is written
/// straight into a frame buffer laid out for `Frame` (headroom before it).
public final class JPEGEncoder {
    private let handle: tjhandle
    public let quality: Int

    public init(quality: Int = 80) throws {
        guard let handle = tjInitCompress() else {
            throw TurboJPEGError(description: "tjInitCompress failed")
        }
        self.handle = handle
        self.quality = max(1, min(100, quality))
    }

    deinit {
        tjDestroy(handle)
    }

    /// Encodes `canvas` and returns a buffer ready for `Frame`.
    public func encode(_ canvas: RGBCanvas) throws -> ParsedJPEG {
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let result = canvas.pixels.withUnsafeBufferPointer { pixels in
            tjCompress2(
                handle,
                pixels.baseAddress,
                Int32(canvas.width),
                0,
                Int32(canvas.height),
                Int32(TJPF_RGB.rawValue),
                &output,
                &size,
                Int32(TJSAMP_420.rawValue),
                Int32(quality),
                Int32(TJFLAG_FASTDCT)
            )
        }
        defer { if let output { tjFree(output) } }
        guard result == 0, let output else {
            throw TurboJPEGError(description: String(cString: tjGetErrorStr2(handle)))
        }
        var buffer = MJPEGPart.allocateFrameBuffer(capacity: Int(size))
        buffer.writeBytes(UnsafeRawBufferPointer(start: output, count: Int(size)))
        return ParsedJPEG(buffer: buffer, width: canvas.width, height: canvas.height)
    }
}
