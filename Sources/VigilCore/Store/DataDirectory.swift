import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The data dir's layout, in one place:
///
/// ```
/// vigil.sqlite      the store (records; WAL files beside it)
/// captures/         captured stills, named by their rows
/// events/           motion event clips and thumbnails
/// sessions/ID/      upload sessions: frames.mjpg, attachments/
/// admin-token       the admin token made at first start without `auth:` (mode 0600)
/// session-key       the key that signs the page's login cookies (mode 0600)
/// ```
public struct DataDirectory: Sendable {
    public let path: String

    public init(_ path: String) {
        self.path = path
    }

    public var database: String { Path.join(path, "vigil.sqlite") }
    public var captures: String { Path.join(path, "captures") }
    public var events: String { Path.join(path, "events") }
    public var sessions: String { Path.join(path, "sessions") }
    public var adminToken: String { Path.join(path, "admin-token") }
    public var sessionKey: String { Path.join(path, "session-key") }

    public func session(_ id: String) -> String {
        Path.join(sessions, id)
    }

    /// Makes `captures/` ready after whatever stopped the last run: partial
    /// files removed, captures that were running marked failed. Answers
    /// the dir, or nil (captures disabled, said in the log) when it cannot
    /// be prepared.
    public func prepareCaptures(store: any RecordStore, logger: Logger) async -> String? {
        let dir = captures
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let removed = AtomicFile.removeLeftovers(in: dir)
            let failed = try await store.failInterruptedCapturesOfThisNode(now: Date().timeIntervalSince1970)
            if removed > 0 || failed > 0 {
                logger.warning(
                    "captures interrupted by the last stop: \(failed) marked failed, \(removed) partial files removed")
            }
            return dir
        } catch {
            logger.error("captures disabled: cannot prepare \(dir): \(error)")
            return nil
        }
    }
}
