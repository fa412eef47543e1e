/// Exponential backoff with full jitter and no attempt limit: how a camera
/// source is restarted and how every client of Vigil reconnects.
///
/// The ceiling starts at `initial` and doubles after every failure up to
/// `max`; each delay is uniformly random in 0...ceiling so that many cameras
/// failing together do not retry in lockstep. `reset()` after a stable run.
/// Without jitter each delay is the ceiling itself (1 s, 2 s, 4 s …): for a
/// retry whose pace is documented, such as a webhook's.
public struct Backoff: Sendable {
    public let initial: Duration
    public let max: Duration
    public let jitter: Bool
    public private(set) var failures = 0

    public init(initial: Duration, max: Duration, jitter: Bool = true) {
        self.initial = initial
        self.max = Swift.max(initial, max)
        self.jitter = jitter
    }

    /// The ceiling for the next delay.
    public var ceiling: Duration {
        let factor = Double(1 << Swift.min(failures, 30))
        let value = initial.seconds * factor
        return value >= max.seconds ? max : .milliseconds(Int64(value * 1000))
    }

    /// The next delay; counts one more failure.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let ceilingMs = Swift.max(Int64(0), Int64(ceiling.seconds * 1000))
        failures += 1
        return .milliseconds(jitter ? Int64.random(in: 0...ceilingMs, using: &generator) : ceilingMs)
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    public mutating func reset() {
        failures = 0
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
