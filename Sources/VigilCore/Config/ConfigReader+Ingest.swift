extension ConfigReader {
    static let ingestSection = ConfigSection<IngestConfig>([
        (
            "max_frame_bytes",
            { r, node, path, ingest in
                if let n = r.bytes(node, path, range: 1024...(64 * 1024 * 1024)) { ingest.maxFrameBytes = Int(n) }
            }
        ),
        (
            "max_session_bytes",
            { r, node, path, ingest in
                if let n = r.bytes(node, path, range: 1024...(Int64.max / 2)) { ingest.maxSessionBytes = n }
            }
        ),
        (
            "max_sessions",
            { r, node, path, ingest in if let n = r.int(node, path, range: 1...10_000) { ingest.maxSessions = n } }
        ),
        (
            "max_attachment_bytes",
            { r, node, path, ingest in
                if let n = r.bytes(node, path, range: 1...(256 * 1024 * 1024)) { ingest.maxAttachmentBytes = Int(n) }
            }
        ),
        (
            "ack_every",
            { r, node, path, ingest in if let n = r.int(node, path, range: 1...100_000) { ingest.ackEvery = n } }
        ),
        (
            "idle_timeout",
            { r, node, path, ingest in
                if let d = r.duration(node, path, min: .milliseconds(100)) { ingest.idleTimeout = d }
            }
        ),
        ("resume_window", { r, node, path, ingest in if let d = r.duration(node, path) { ingest.resumeWindow = d } }),
        (
            "process_command",
            { r, node, path, ingest in
                if let argv = r.argv(node, path, example: "[./process.sh, \"{session_dir}\"]") {
                    ingest.processCommand = argv
                }
            }
        ),
        (
            "process_timeout",
            { r, node, path, ingest in
                if let d = r.duration(node, path, min: .milliseconds(100)) { ingest.processTimeout = d }
            }
        ),
    ])

    /// `ingest:`.
    mutating func readIngest(_ node: YAMLNode, _ path: String) -> IngestConfig {
        var ingest = IngestConfig()
        read(node, path, into: &ingest, Self.ingestSection)
        return ingest
    }
}
