import NIOCore
import Testing
import VigilCore

@Suite struct JPEGFrameParserTests {
    @Test func everySplitPointGivesTheSameFrames() throws {
        let frames = try JPEGFixtures.frames(count: 3)
        let stream = frames.flatMap { $0 }
        for split in 0...stream.count {
            let (parsed, stats) = parse([Array(stream[..<split]), Array(stream[split...])])
            #expect(parsed.map(JPEGFixtures.bytes) == frames, "split at \(split)")
            #expect(stats.frames == 3 && stats.skippedBytes == 0 && stats.truncated == 0)
        }
    }

    @Test func byteByByteFeedingGivesTheSameFrames() throws {
        let frames = try JPEGFixtures.frames(count: 4)
        let stream = frames.flatMap { $0 }
        let (parsed, stats) = parse(stream.map { [$0] })
        #expect(parsed.map(JPEGFixtures.bytes) == frames)
        #expect(stats.frames == 4)
    }

    @Test func readsWidthAndHeightFromSOF() throws {
        let frames = try JPEGFixtures.frames(count: 1, width: 320, height: 200)
        let (parsed, _) = parse(frames)
        #expect(parsed.count == 1)
        #expect(parsed.first?.width == 320 && parsed.first?.height == 200)
    }

    @Test func exifThumbnailInsideAPP1DoesNotCutTheFrame() throws {
        let thumbnail = try JPEGFixtures.frames(count: 1, width: 32, height: 24)[0]
        let main = try JPEGFixtures.frames(count: 1, width: 96, height: 64)[0]
        let withExif = JPEGFixtures.withExifThumbnail(main, thumbnail: thumbnail)
        let stream = withExif + main + withExif
        for split in stride(from: 0, through: stream.count, by: 7) {
            let (parsed, stats) = parse([Array(stream[..<split]), Array(stream[split...])])
            #expect(parsed.map(JPEGFixtures.bytes) == [withExif, main, withExif], "split at \(split)")
            #expect(parsed.map(\.width) == [96, 96, 96])
            #expect(stats.truncated == 0 && stats.invalid == 0)
        }
    }

    @Test func stuffedBytesRestartMarkersAndFillBytesStayInsideTheFrame() {
        let jpeg = JPEGFixtures.syntheticWithRestarts(width: 1920, height: 1080)
        let (parsed, stats) = parse([jpeg, jpeg])
        #expect(parsed.map(JPEGFixtures.bytes) == [jpeg, jpeg])
        #expect(parsed.first?.width == 1920 && parsed.first?.height == 1080)
        #expect(stats.frames == 2)
    }

    @Test func garbageBetweenFramesIsSkippedAndCounted() throws {
        let frames = try JPEGFixtures.frames(count: 3)
        let garbage: [UInt8] = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let leading: [UInt8] = Array("HTTP/1.1 junk\r\n\r\n".utf8)
        let stream = leading + frames[0] + garbage + frames[1] + garbage + frames[2]
        let (parsed, stats) = parse([stream])
        #expect(parsed.map(JPEGFixtures.bytes) == frames)
        #expect(stats.frames == 3)
        #expect(stats.skippedBytes == leading.count + 2 * garbage.count)
    }

    @Test func randomGarbageResynchronises() throws {
        let frames = try JPEGFixtures.frames(count: 3)
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<50 {
            let garbage = (0..<Int.random(in: 1...3000, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let (parsed, _) = parse([garbage + frames[0] + frames[1], garbage, frames[2]])
            let emitted = parsed.map(JPEGFixtures.bytes)
            // Garbage may look like the start of a frame, but every real frame
            // that follows a clean SOI is recovered.
            #expect(emitted.suffix(1) == [frames[2]])
            #expect(emitted.contains(frames[1]))
        }
    }

    @Test func truncatedFrameIsDroppedAndCounted() throws {
        let frames = try JPEGFixtures.frames(count: 3)
        let cut = Array(frames[1][..<(frames[1].count / 2)])
        let (parsed, stats) = parse([frames[0] + cut + frames[2]])
        #expect(parsed.map(JPEGFixtures.bytes) == [frames[0], frames[2]])
        #expect(stats.truncated == 1)
        #expect(stats.frames == 2)
    }

    @Test func truncatedHeaderIsDroppedAndCounted() throws {
        let frames = try JPEGFixtures.frames(count: 2)
        let cut = Array(frames[0][..<40])
        let (parsed, stats) = parse([cut + frames[1]])
        #expect(parsed.map(JPEGFixtures.bytes) == [frames[1]])
        #expect(stats.truncated + stats.invalid == 1)
    }

    @Test func oversizeFrameIsRejectedAndTheNextOneParsed() throws {
        let big = try JPEGFixtures.frames(count: 1, width: 640, height: 480, quality: 90)[0]
        let small = try JPEGFixtures.frames(count: 2)
        let limit = (big.count + small[0].count) / 2
        #expect(small.allSatisfy { $0.count < limit } && big.count > limit)
        let stream = small[0] + big + small[1]
        for chunkSize in [1, 333, 4096, stream.count] {
            let chunks = stride(from: 0, to: stream.count, by: chunkSize).map {
                Array(stream[$0..<min($0 + chunkSize, stream.count)])
            }
            let (parsed, stats) = parse(chunks, maxFrameBytes: limit)
            #expect(parsed.map(JPEGFixtures.bytes) == small, "chunk size \(chunkSize)")
            #expect(stats.oversize == 1)
        }
    }

    @Test func emittedFramesHaveHeadroomForPartHeaders() throws {
        let frames = try JPEGFixtures.frames(count: 1)
        let (parsed, _) = parse(frames)
        #expect(parsed[0].buffer.readerIndex >= MJPEGPart.headroom)
    }
}

/// A small deterministic generator (SplitMix64) for reproducible garbage.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
