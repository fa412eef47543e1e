import NIOCore
import Testing
import VigilCore

@Suite struct FrameHubTests {
    func jpeg(_ index: Int) throws -> ParsedJPEG {
        var parser = JPEGFrameParser()
        var out: ParsedJPEG?
        let bytes = try JPEGFixtures.frames(count: 1)[0]
        _ = index
        bytes.withUnsafeBytes { parser.feed($0) { out = $0 } }
        return out!
    }

    @Test func frameViewsShareOneStorage() throws {
        let hub = FrameHub(camera: "a")
        let frame = hub.publish(try jpeg(0))
        let part = frame.mjpegPart
        let jpegBase = frame.jpeg.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let partBase = part.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let headerLength = Int(jpegBase - partBase)
        #expect(headerLength > 0 && headerLength <= MJPEGPart.headroom)
        let header = String(decoding: part.getBytes(at: part.readerIndex, length: headerLength)!, as: UTF8.self)
        #expect(header.hasPrefix("Content-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.readableBytes)\r\n"))
        #expect(header.hasSuffix("\r\n\r\n"))
        let tail = part.getBytes(at: part.writerIndex - MJPEGPart.trailer.count, length: MJPEGPart.trailer.count)
        #expect(tail == MJPEGPart.trailer)
    }

    @Test func sequenceNumbersIncreaseAndLatestIsKept() throws {
        let hub = FrameHub(camera: "a")
        let first = hub.publish(try jpeg(0))
        let second = hub.publish(try jpeg(1))
        #expect(second.seq == first.seq + 1)
        #expect(hub.latest?.seq == second.seq)
    }

    @Test func placeholdersNeverBecomeLatest() throws {
        let hub = FrameHub(camera: "a")
        let real = hub.publish(try jpeg(0))
        let card = try jpeg(1)
        hub.publishPlaceholder(Frame(camera: "a", seq: 0, jpeg: card.buffer, width: 1, height: 1, isPlaceholder: true))
        #expect(hub.latest?.seq == real.seq)
        #expect(hub.latest?.isPlaceholder == false)
    }

    @Test func mailboxKeepsOnlyTheNewestFrameAndCountsDrops() async throws {
        let hub = FrameHub(camera: "a")
        let mailbox = FrameMailbox()
        hub.subscribe(mailbox)
        #expect(hub.viewerCount == 1)
        var last: Frame?
        for i in 0..<5 { last = hub.publish(try jpeg(i)) }
        let received = await mailbox.next()
        #expect(received?.seq == last?.seq)
        #expect(mailbox.dropped == 4)
        hub.unsubscribe(mailbox)
        #expect(hub.viewerCount == 0)
    }

    @Test func mailboxWaiterIsWokenByPublishAndByFinish() async throws {
        let hub = FrameHub(camera: "a")
        let mailbox = FrameMailbox()
        hub.subscribe(mailbox)
        let sample = try jpeg(0)
        async let next = mailbox.next()
        // The waiter may or may not be parked yet: both paths deliver the frame.
        let published = hub.publish(sample)
        #expect(await next?.seq == published.seq)
        async let ended = mailbox.next()
        hub.finishAll()
        #expect(await ended == nil)
        #expect(hub.subscribe(FrameMailbox()) == false)
    }

    @Test func cancellingAWaitingConsumerReturnsNil() async {
        let mailbox = FrameMailbox()
        let task = Task { await mailbox.next() }
        task.cancel()
        #expect(await task.value == nil)
    }
}
