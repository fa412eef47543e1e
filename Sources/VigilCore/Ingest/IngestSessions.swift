import Logging
import Synchronization
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Wants the processing messages of a session (an ingest socket).
public protocol SessionWatcher: AnyObject, Sendable {
    func tell(_ reply: IngestReply)
}

/// Runs a session's processing command: `onLine` gets each stdout line; the
/// answer is nil on success, else why it failed.
public typealias SessionCommandRunner =
    @Sendable (
        _ argv: [String], _ timeout: Duration, _ onLine: @escaping @Sendable (String) -> Void
    ) async -> String?

/// Upload sessions, shared by every ingest connection: which sessions are
/// being received (and by whom), the processing runs, crash recovery at
/// start, and the clean-up of interrupted sessions once their resume window
/// has passed.
///
/// A session is on disk as `DATA_DIR/sessions/ID/` (`frames.mjpg`,
/// `attachments/`) and in SQLite (state, frames and bytes acked, metadata,
/// processing result). Processing belongs to the server, not to a socket: a
/// client that disconnects meanwhile can come back and ask.
public final class IngestSessions: Sendable {
    public let config: IngestConfig
    public let store: any RecordStore
    let feed: ChangeFeed
    let logger: Logger
    private let runCommand: SessionCommandRunner

    private struct State {
        /// Sessions being received, by id, with the token of their socket.
        var receiving: [String: ObjectIdentifier] = [:]
        /// Sockets following a session's processing, by session id.
        var watchers: [String: [ObjectIdentifier: any SessionWatcher]] = [:]
        var processing: [String: Task<Void, Never>] = [:]
        /// After `shutdown()`: no processing starts any more.
        var shuttingDown = false
    }

    private let state = Mutex(State())

    /// Recovers what a crash left: sessions that were receiving become
    /// interrupted (resumable), those that were processing failed.
    public init(
        config: IngestConfig, store: any RecordStore, feed: ChangeFeed, logger: Logger,
        runCommand: @escaping SessionCommandRunner
    ) async throws {
        self.config = config
        self.runCommand = runCommand
        self.store = store
        self.feed = feed
        var logger = logger
        logger[metadataKey: "ingest"] = "sessions"
        self.logger = logger
        try FileManager.default.createDirectory(atPath: store.directory.sessions, withIntermediateDirectories: true)
        // A crash leaves sessions that were receiving (resumable) or
        // processing (the run is lost).
        let now = Date().timeIntervalSince1970
        for var record in try await store.sessionsOfThisNode(in: .receiving, updatedBefore: .infinity) {
            record.state = .interrupted
            record.updatedAt = now
            try await store.saveSession(record)
        }
        for var record in try await store.sessionsOfThisNode(in: .processing, updatedBefore: .infinity) {
            record.state = .failed
            record.error = "interrupted: the server stopped during processing"
            record.updatedAt = now
            try await store.saveSession(record)
        }
    }

    func directory(of session: String) -> String {
        store.directory.session(session)
    }

    // MARK: - Receiving

    enum ClaimResult {
        case claimed
        case tooMany
        case busy
    }

    /// Marks `session` as received by the socket `owner`, within `max_sessions`.
    func claim(_ session: String, owner: ObjectIdentifier) -> ClaimResult {
        state.withLock { state in
            if let current = state.receiving[session] { return current == owner ? .claimed : .busy }
            guard state.receiving.count < config.maxSessions else { return .tooMany }
            state.receiving[session] = owner
            return .claimed
        }
    }

    func release(_ session: String, owner: ObjectIdentifier) {
        state.withLock { state in
            if state.receiving[session] == owner { state.receiving[session] = nil }
        }
    }

    var receivingCount: Int { state.withLock { $0.receiving.count } }

    // MARK: - Processing

    /// Adds a watcher of the processing messages of `session`.
    func watch(_ session: String, watcher: any SessionWatcher) {
        state.withLock { $0.watchers[session, default: [:]][ObjectIdentifier(watcher)] = watcher }
    }

    /// Removes a watcher from every session (its socket closed).
    public func unwatch(_ watcher: any SessionWatcher) {
        state.withLock { state in
            for key in state.watchers.keys {
                state.watchers[key]?[ObjectIdentifier(watcher)] = nil
            }
            state.watchers = state.watchers.filter { !$0.value.isEmpty }
        }
    }

    private func tell(_ session: String, _ reply: IngestReply) {
        let watchers = state.withLock { Array(($0.watchers[session] ?? [:]).values) }
        for watcher in watchers { watcher.tell(reply) }
    }

    /// After `session_end`: runs the processing command, or completes at once.
    func finish(_ ended: SessionRecord) async {
        var record = ended
        guard let command = config.processCommand else {
            await complete(&record, error: nil)
            return
        }
        record.state = .processing
        record.updatedAt = Date().timeIntervalSince1970
        await save(record)
        publish(.processing, record)
        let argv = command.map { $0.replacing("{session_dir}", with: directory(of: record.id)) }
        // Registered under the lock the run removes itself under: a run that
        // ends at once cannot leave its entry behind, and none starts after
        // shutdown took the list it cancels and awaits.
        let started = state.withLock { locked -> Bool in
            guard !locked.shuttingDown else { return false }
            locked.processing[record.id] = Task { [self, record] in await process(record, argv: argv) }
            return true
        }
        if !started {
            await complete(&record, error: "interrupted: the server is shutting down")
        }
    }

    /// One processing run: progress lines reported as they come, then the result.
    private func process(_ record: SessionRecord, argv: [String]) async {
        let progress = Mutex(record)
        // Progress rows are saved in order by one task; a line that comes
        // while a save is under way replaces the one waiting.
        let (updates, pending) = AsyncStream.makeStream(of: SessionRecord.self, bufferingPolicy: .bufferingNewest(1))
        async let saved: Void = { for await update in updates { await self.save(update) } }()
        let failure = await runCommand(argv, config.processTimeout) { line in
            // `progress <stage> <percent>`; other lines are the command's own.
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, parts[0] == "progress", let percent = Double(parts[2]),
                percent.isFinite, (0...100).contains(percent)
            else { return }
            let stage = String(parts[1].prefix(64))
            let updated = progress.withLock { record -> SessionRecord in
                record.progressStage = stage
                record.progressPercent = percent
                record.updatedAt = Date().timeIntervalSince1970
                return record
            }
            pending.yield(updated)
            self.tell(updated.id, .progress(sessionID: updated.id, stage: stage, percent: percent))
            self.publish(.progress, updated)
        }
        pending.finish()
        await saved
        var final = progress.withLock { $0 }
        await complete(&final, error: failure)
        _ = state.withLock { $0.processing.removeValue(forKey: final.id) }
    }

    private func complete(_ record: inout SessionRecord, error: String?) async {
        record.state = error == nil ? .complete : .failed
        record.error = error
        record.updatedAt = Date().timeIntervalSince1970
        await save(record)
        if let error {
            logger.warning("session \(record.id): processing failed: \(error)")
            tell(record.id, .error(SocketError(code: "processing_failed", message: error, sessionID: record.id)))
            publish(.failed, record)
        } else {
            logger.info("session \(record.id): complete, \(record.frames) frames, \(record.bytes) bytes")
            tell(record.id, .complete(.init(sessionID: record.id, frames: record.frames, bytes: record.bytes)))
            publish(.complete, record)
        }
        _ = state.withLock { $0.watchers.removeValue(forKey: record.id) }
    }

    func save(_ record: SessionRecord) async {
        do {
            try await store.saveSession(record)
        } catch {
            logger.error("cannot save session \(record.id): \(error)")
        }
    }

    func publish(_ kind: SessionChangeMessage.Kind, _ record: SessionRecord) {
        let change = record.change
        feed.publish { .session(SessionChangeMessage(kind: kind, version: $0, change: change)) }
    }

    // MARK: - Clean-up

    /// Deletes interrupted sessions older than the resume window, files and rows.
    func removeExpired(now: Date = Date()) async {
        let before = now.timeIntervalSince1970 - config.resumeWindow.seconds
        let expired: [SessionRecord]
        do {
            expired = try await store.sessionsOfThisNode(in: .interrupted, updatedBefore: before)
        } catch {
            logger.error("cannot list expired sessions: \(error)")
            return
        }
        for record in expired where state.withLock({ $0.receiving[record.id] == nil }) {
            try? FileManager.default.removeItem(atPath: directory(of: record.id))
            try? await store.deleteSession(id: record.id)
            logger.info("session \(record.id): not resumed within \(config.resumeWindow), removed")
        }
    }

    /// Runs until cancelled: clean-up every resume_window / 10 (1 s to 1 min).
    public func runJanitor() async {
        let period = min(max(config.resumeWindow / 10, .seconds(1)), .seconds(60))
        while !Task.isCancelled {
            await removeExpired()
            do { try await Task.sleep(for: period) } catch { return }
        }
    }

    /// Stops processing runs (shutdown); their sessions are failed.
    public func shutdown() async {
        let tasks = state.withLock { state in
            state.shuttingDown = true
            return Array(state.processing.values)
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}
