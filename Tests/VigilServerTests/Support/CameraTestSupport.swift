import Foundation
import Logging
import Synchronization
import VigilAPI
import VigilCore
import VigilSources

/// A camera as the server builds one, with the short backoff tests want.
func makeTestCamera(
    _ source: SourceConfig, id: String, staleAfter: Duration = .seconds(1), maxFrameBytes: Int = 1 << 20,
    initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .milliseconds(200),
    states: StateRecorder? = nil, logger: Logger = .quietForTests
) -> Camera {
    var config = CameraConfig(id: id, source: source)
    config.staleAfter = staleAfter
    config.maxFrameBytes = maxFrameBytes
    config.restart.initialBackoff = initialBackoff
    config.restart.maxBackoff = maxBackoff
    let makeSource = SourceFactory.make(for: config, logger: logger)
    guard let states else { return Camera(config: config, makeSource: makeSource, logger: logger) }
    return Camera(config: config, makeSource: makeSource, logger: logger, onChange: states.record)
}

extension Logger {
    /// Only critical messages: tests read states, not logs.
    static let quietForTests: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()
}

/// Starts `camera` with a mailbox subscribed to its frames (before the
/// first frame, so none is missed).
func startWatching(_ camera: Camera) async -> FrameMailbox {
    let mailbox = FrameMailbox()
    camera.hub.subscribe(mailbox)
    await camera.activate()
    return mailbox
}

/// Waits for `count` real frames and returns the last.
func frames(_ mailbox: FrameMailbox, _ count: Int, timeout: Duration = .seconds(15)) async throws -> Frame {
    var last: Frame?
    for _ in 0..<count {
        last = try await nextRealFrame(mailbox, timeout: timeout) { _ in true }
    }
    return last!
}

/// Waits for the next real (non-placeholder) frame matching `predicate`.
func nextRealFrame(
    _ mailbox: FrameMailbox, timeout: Duration = .seconds(15), where predicate: @escaping @Sendable (Frame) -> Bool
) async throws -> Frame {
    let outcome = await withTimeout(timeout) { () -> Frame? in
        while let frame = await mailbox.next() {
            if !frame.isPlaceholder, predicate(frame) { return frame }
        }
        return nil
    }
    guard case .finished(let frame?) = outcome else {
        throw TimeoutError(description: "no matching frame within \(timeout)")
    }
    return frame
}

/// Collects a camera's state changes and lets a test await one.
final class StateRecorder: Sendable {
    private struct State {
        var latest: CameraState?
        var waiters: [(predicate: @Sendable (CameraState) -> Bool, continuation: CheckedContinuation<Void, Never>)] =
            []
    }

    private let state = Mutex(State())

    var record: @Sendable (CameraState) -> Void {
        { [self] camera in
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.latest = camera
                var ready: [CheckedContinuation<Void, Never>] = []
                state.waiters.removeAll { waiter in
                    guard waiter.predicate(camera) else { return false }
                    ready.append(waiter.continuation)
                    return true
                }
                return ready
            }
            ready.forEach { $0.resume() }
        }
    }

    func wait(timeout: Duration, until predicate: @escaping @Sendable (CameraState) -> Bool) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLock { state -> Bool in
                        if let latest = state.latest, predicate(latest) { return true }
                        state.waiters.append((predicate, continuation))
                        return false
                    }
                    if now { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let met = try await group.next() ?? false
            group.cancelAll()
            if !met {
                // Release the parked waiter so the group can finish.
                let pending = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    defer { state.waiters = [] }
                    return state.waiters.map(\.continuation)
                }
                pending.forEach { $0.resume() }
                throw TimeoutError(description: "state condition not met within \(timeout)")
            }
        }
    }
}

/// A log handler that keeps every message, for tests that check the log.
final class LogCapture: LogHandler, @unchecked Sendable {
    private let lock = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var messages: [String] { lock.withLock { $0 } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { $0.append(event.message.description) }
    }
}
