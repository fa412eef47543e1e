import Logging
import Synchronization
import VigilCore

/// Failed credentials per client address: `attempts` failures within
/// `window` lock the address out for `duration` (answered 429). One log
/// line per lockout, naming the address, never a credential. Bounded: at
/// most `maxAddresses` addresses are followed; the stalest are forgotten.
final class LockoutTracker: Sendable {
    static let maxAddresses = 4096

    private struct Entry {
        var failures: [ContinuousClock.Instant] = []
        var lockedUntil: ContinuousClock.Instant?
    }

    private let policy: AuthConfig.Lockout
    private let logger: Logger
    private let entries = Mutex<[String: Entry]>([:])

    init(_ policy: AuthConfig.Lockout, logger: Logger) {
        self.policy = policy
        self.logger = logger
    }

    func isLockedOut(_ address: String, now: ContinuousClock.Instant = .now) -> Bool {
        entries.withLock { entries in
            guard let until = entries[address]?.lockedUntil else { return false }
            if until > now { return true }
            entries[address] = nil
            return false
        }
    }

    func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) {
        let locked = entries.withLock { entries -> Bool in
            if entries[address] == nil, entries.count >= Self.maxAddresses {
                let stalest = entries.min { ($0.value.failures.last ?? now) < ($1.value.failures.last ?? now) }
                if let stalest { entries[stalest.key] = nil }
            }
            var entry = entries[address] ?? Entry()
            entry.failures = entry.failures.filter { now - $0 < policy.window } + [now]
            var locked = false
            if entry.failures.count >= policy.attempts {
                entry.lockedUntil = now + policy.duration
                entry.failures = []
                locked = true
            }
            entries[address] = entry
            return locked
        }
        if locked {
            logger.warning(
                "locked out \(address) for \(policy.duration): \(policy.attempts) failed credentials within \(policy.window)"
            )
        }
    }
}
