import Synchronization

/// What a camera's supervisor counts for `/metrics`: restarts by reason and
/// how long each recovery took (from the fault to the next live frame).
///
/// Recoveries wait here until the next scrape takes them (at most
/// `maxPendingRecoveries`; more between two scrapes are counted as lost), so
/// the camera needs no metrics library and the exporter gives every series
/// its help text.
public final class CameraStatistics: Sendable {
    /// The `reason` label of `vigil_camera_restarts_total`.
    public enum RestartReason: String, Sendable, CaseIterable {
        /// No frame for `stale_after`.
        case stale
        /// The source ended by itself (its process exited, its upstream
        /// closed the stream).
        case exited
        /// The source failed (cannot connect, refused, a protocol error).
        case error
    }

    public static let maxPendingRecoveries = 1024

    private struct State {
        var restarts: [RestartReason: Int] = [:]
        var recoveries: [Duration] = []
        var lostRecoveries = 0
    }
    private let state = Mutex(State())

    public init() {}

    func restarted(_ reason: RestartReason) {
        state.withLock { $0.restarts[reason, default: 0] += 1 }
    }

    func recovered(after duration: Duration) {
        state.withLock { state in
            if state.recoveries.count < Self.maxPendingRecoveries {
                state.recoveries.append(duration)
            } else {
                state.lostRecoveries += 1
            }
        }
    }

    /// Restarts so far, by reason.
    public func restarts(_ reason: RestartReason) -> Int {
        state.withLock { $0.restarts[reason] ?? 0 }
    }

    /// The recoveries since the last call, and how many did not fit.
    public func takeRecoveries() -> (durations: [Duration], lost: Int) {
        state.withLock { state in
            defer {
                state.recoveries = []
                state.lostRecoveries = 0
            }
            return (state.recoveries, state.lostRecoveries)
        }
    }
}
