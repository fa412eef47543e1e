import Synchronization

/// A producer of JPEG frames: a child process, a network stream, a generator.
///
/// A source object serves exactly one attempt. The camera builds a new one
/// through its factory for every start and every restart, so nothing of a
/// broken attempt (process, socket, parser) is ever reused.
public protocol FrameSource: Sendable {
    /// Runs until the source fails, ends, or the calling task is cancelled,
    /// handing each complete frame to `sink`. Everything the source opened is
    /// closed (and every child reaped) before it returns or throws.
    func run(into sink: FrameSink) async throws

    /// Whether a source that delivers no frame for `stale_after` is torn down
    /// and replaced. True for everything that connects somewhere; a push
    /// source has nothing to reconnect, so it is only reported stale.
    var restartsWhenStale: Bool { get }
}

extension FrameSource {
    public var restartsWhenStale: Bool { true }
}

/// Builds a fresh `FrameSource` for each attempt.
public typealias FrameSourceFactory = @Sendable () throws -> any FrameSource

/// Whether a camera's upstream can be reached now (a network camera's TCP
/// connect); see `Camera`'s restart backoff.
public typealias CameraReachability = @Sendable () async -> Bool

/// Why a source stopped, in words for `last_error` and the log.
public struct SourceEnded: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The source ended by itself (its process exited, its upstream closed
    /// the stream) rather than failing; `vigil_camera_restarts_total` counts
    /// the two apart.
    public let exited: Bool

    public init(_ description: String, exited: Bool = false) {
        self.description = description
        self.exited = exited
    }
}

/// Where a source delivers its frames during one attempt.
///
/// It publishes to the camera's hub and records when the attempt last
/// delivered, which the camera's watchdog reads.
public final class FrameSink: Sendable {
    private struct State {
        var lastFrameAt: ContinuousClock.Instant
        var firstFrameAt: ContinuousClock.Instant?
        var frames = 0
        var rejected = 0
        var lastRejection: String?
    }

    public let hub: FrameHub
    private let state: Mutex<State>

    public init(hub: FrameHub, startedAt: ContinuousClock.Instant = .now) {
        self.hub = hub
        self.state = Mutex(State(lastFrameAt: startedAt))
    }

    /// Publishes one frame.
    @discardableResult
    public func deliver(_ jpeg: ParsedJPEG) -> Frame {
        let now = ContinuousClock.now
        state.withLock { state in
            state.lastFrameAt = now
            if state.firstFrameAt == nil { state.firstFrameAt = now }
            state.frames += 1
        }
        return hub.publish(jpeg, capturedAt: now)
    }

    /// Records a message that was not a frame (bad packet, not a JPEG, too
    /// large), so that a camera going stale can say what it got instead.
    public func reject(_ reason: String) {
        state.withLock { state in
            state.rejected += 1
            state.lastRejection = reason
        }
    }

    /// Messages this attempt skipped, and why the last one was skipped.
    public var rejections: (count: Int, last: String?) {
        state.withLock { ($0.rejected, $0.lastRejection) }
    }

    /// When the last frame arrived (or the attempt started).
    public var lastFrameAt: ContinuousClock.Instant { state.withLock { $0.lastFrameAt } }
    /// When the first frame of this attempt arrived.
    public var firstFrameAt: ContinuousClock.Instant? { state.withLock { $0.firstFrameAt } }
    /// Frames delivered in this attempt.
    public var frames: Int { state.withLock { $0.frames } }
}
