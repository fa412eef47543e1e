extension ConfigReader {
    static let motionEventsSection = ConfigSection<MotionEventsConfig>([
        (
            "max_age_days",
            { r, node, path, events in if let v = r.double(node, path, range: 0...36_500) { events.maxAgeDays = v } }
        ),
        (
            "max_bytes",
            { r, node, path, events in
                if let n = r.bytes(node, path, range: (1024 * 1024)...(Int64.max / 2)) { events.maxBytes = n }
            }
        ),
        (
            "hook_queue",
            { r, node, path, events in if let n = r.int(node, path, range: 1...10_000) { events.hookQueue = n } }
        ),
    ])

    /// `events:` (retention of recorded motion events, hooks).
    mutating func readMotionEvents(_ node: YAMLNode, _ path: String) -> MotionEventsConfig {
        var events = MotionEventsConfig()
        read(node, path, into: &events, Self.motionEventsSection)
        return events
    }
}
