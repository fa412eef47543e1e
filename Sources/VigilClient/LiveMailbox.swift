import Synchronization
import VigilAPI

/// Where a `LiveView`'s socket leaves events for its reader: bounded
/// whatever the reader's pace. The newest frame of each camera replaces the
/// one waiting, the newest state likewise; connection events keep their
/// order (the last 16). The reader gets connection events first, then
/// states, then frames, so a frame never arrives before the state that
/// explains it.
final class LiveMailbox: Sendable {
    private struct Waiting {
        var connection: [LiveEvent] = []
        var states: [CameraState] = []
        var frames: [LiveFrame] = []
        var reader: CheckedContinuation<LiveEvent?, Never>?
        var finished = false

        mutating func take() -> LiveEvent? {
            if !connection.isEmpty { return connection.removeFirst() }
            if !states.isEmpty { return .state(states.removeFirst()) }
            if !frames.isEmpty { return .frame(frames.removeFirst()) }
            return nil
        }
    }

    static let connectionEvents = 16
    private let waiting = Mutex(Waiting())

    func put(_ event: LiveEvent?) {
        guard let event else { return }
        let handOver = waiting.withLock { waiting -> (CheckedContinuation<LiveEvent?, Never>, LiveEvent)? in
            guard !waiting.finished else { return nil }
            switch event {
            case .frame(let frame):
                if let index = waiting.frames.firstIndex(where: { $0.camera == frame.camera }) {
                    waiting.frames[index] = frame
                } else {
                    waiting.frames.append(frame)
                }
            case .state(let state):
                if let index = waiting.states.firstIndex(where: { $0.id == state.id }) {
                    waiting.states[index] = state
                } else {
                    waiting.states.append(state)
                }
            case .connected, .disconnected:
                waiting.connection.append(event)
                if waiting.connection.count > Self.connectionEvents { waiting.connection.removeFirst() }
            }
            guard let reader = waiting.reader, let next = waiting.take() else { return nil }
            waiting.reader = nil
            return (reader, next)
        }
        if let (reader, next) = handOver { reader.resume(returning: next) }
    }

    /// Ends the sequence: the reader gets what waits, then nil.
    func finish() {
        let reader = waiting.withLock { waiting -> CheckedContinuation<LiveEvent?, Never>? in
            waiting.finished = true
            defer { waiting.reader = nil }
            return waiting.reader
        }
        reader?.resume(returning: nil)
    }

    func next() async -> LiveEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<LiveEvent?, Never>) in
                let answer = waiting.withLock { waiting -> LiveEvent?? in
                    if let next = waiting.take() { return .some(next) }
                    if waiting.finished || Task.isCancelled { return .some(nil) }
                    waiting.reader = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            finish()
        }
    }
}
