import Synchronization

/// The global, strictly increasing version stamped on every state change.
public final class VersionClock: Sendable {
    private let value = Atomic<UInt64>(0)

    public init() {}

    /// The next version.
    public func next() -> UInt64 {
        value.wrappingAdd(1, ordering: .relaxed).newValue
    }

    public var current: UInt64 { value.load(ordering: .relaxed) }
}
