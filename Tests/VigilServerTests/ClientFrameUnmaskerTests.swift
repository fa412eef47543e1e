import NIOCore
import NIOWebSocket
import Testing
import VigilCore

@testable import VigilServer

/// The word-at-a-time unmasking of client frames gives the bytes NIO's own
/// byte-at-a-time unmasking gives, for every length (whole words and tails).
struct ClientFrameUnmaskerTests {
    @Test func unmaskingMatchesNIOForEveryLengthAndLeavesHeadroomForTheFrame() {
        var generator = SystemRandomNumberGenerator()
        for length in Array(0...40) + [1000, 90_001] {
            let key = WebSocketMaskingKey((0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) })!
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var masked = ByteBuffer(bytes: bytes)
            masked.webSocketMask(key)
            var expected = masked
            expected.webSocketUnmask(key)
            let unmasked = ClientFrameUnmasker.unmasked(masked, key: key)
            #expect(Array(unmasked.readableBytesView) == bytes, "length \(length)")
            #expect(expected == unmasked, "length \(length)")
            #expect(unmasked.readerIndex == MJPEGPart.headroom, "a pushed JPEG is published without another copy")
        }
    }
}
