import Synchronization
import VigilCore

/// Where frames pushed by clients (`POST .../frames`, ingest sessions) enter
/// a `push` camera.
///
/// One inbox per camera, for the camera's lifetime; each attempt's
/// `PushSource` attaches its sink while it runs. With no attempt running
/// (camera stopped) a pushed frame is refused rather than kept.
public final class PushInbox: Sendable {
    private let sink = Mutex<FrameSink?>(nil)

    public init() {}

    /// Publishes `jpeg` through the running attempt; nil when none runs.
    public func deliver(_ jpeg: ParsedJPEG) -> Frame? {
        guard let sink = sink.withLock({ $0 }) else { return nil }
        return sink.deliver(jpeg)
    }

    func attach(_ newSink: FrameSink) {
        sink.withLock { $0 = newSink }
    }

    func detach(_ oldSink: FrameSink) {
        sink.withLock { current in
            if current === oldSink { current = nil }
        }
    }
}

/// `kind: push`: frames come from clients through the camera's `PushInbox`.
public struct PushSource: FrameSource {
    public let inbox: PushInbox

    public init(inbox: PushInbox) {
        self.inbox = inbox
    }

    public var restartsWhenStale: Bool { false }

    public func run(into sink: FrameSink) async throws {
        inbox.attach(sink)
        defer { inbox.detach(sink) }
        while true {
            try await Task.sleep(for: .seconds(3600))
        }
    }
}
