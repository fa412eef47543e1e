import CTurboJPEG
import NIOCore

/// A grayscale picture, one byte per pixel, rows packed.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]
}

/// Decodes JPEGs to grayscale at reduced scale with TurboJPEG's scaled
/// decode, for motion analysis: the largest reduction that keeps the width at
/// least `minWidth` (1280 → 160 px at 1/8). Scaling skips most of the inverse
/// DCT work; the entropy decoding of the whole file remains, which is why
/// analysis samples frames instead of decoding every one.
///
/// Not thread-safe: one decoder per analysis task.
public final class GrayDecoder {
    private let handle: tjhandle
    private let factors: [tjscalingfactor]
    public let minWidth: Int

    public init(minWidth: Int = 120) throws {
        guard let handle = tjInitDecompress() else {
            throw TurboJPEGError(description: "tjInitDecompress failed")
        }
        self.handle = handle
        self.minWidth = minWidth
        var count: Int32 = 0
        if let list = tjGetScalingFactors(&count), count > 0 {
            factors = (0..<Int(count)).map { list[$0] }
        } else {
            factors = [tjscalingfactor(num: 1, denom: 1)]
        }
    }

    deinit {
        tjDestroy(handle)
    }

    /// The scaling factor for a picture `width` pixels wide.
    func factor(forWidth width: Int) -> tjscalingfactor {
        var best = tjscalingfactor(num: 1, denom: 1)
        var bestWidth = Int.max
        for factor in factors {
            let scaled = Int(vigil_tjscaled(Int32(width), factor))
            // The smallest scaled width that is still wide enough, never upscaled.
            if scaled >= min(minWidth, width), scaled <= width, scaled < bestWidth {
                best = factor
                bestWidth = scaled
            }
        }
        return best
    }

    public func decode(_ jpeg: ByteBuffer) throws -> GrayImage {
        try jpeg.withUnsafeReadableBytes { raw -> GrayImage in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw TurboJPEGError(description: "empty JPEG")
            }
            var width: Int32 = 0
            var height: Int32 = 0
            var subsampling: Int32 = 0
            var colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, base, UInt(raw.count), &width, &height, &subsampling, &colorspace) == 0
            else { throw TurboJPEGError(description: String(cString: tjGetErrorStr2(handle))) }
            let factor = factor(forWidth: Int(width))
            let scaledWidth = Int(vigil_tjscaled(width, factor))
            let scaledHeight = Int(vigil_tjscaled(height, factor))
            var pixels = [UInt8](repeating: 0, count: scaledWidth * scaledHeight)
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(
                    handle, base, UInt(raw.count), out.baseAddress, Int32(scaledWidth), 0, Int32(scaledHeight),
                    Int32(TJPF_GRAY.rawValue), Int32(TJFLAG_FASTDCT))
            }
            guard status == 0 else { throw TurboJPEGError(description: String(cString: tjGetErrorStr2(handle))) }
            return GrayImage(width: scaledWidth, height: scaledHeight, pixels: pixels)
        }
    }
}
