import NIOCore
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Still captures, one at a time per camera, from a bounded queue.
///
/// With a command and `pause_live`, the live source is stopped before the
/// command and a brand-new one started after it, whatever the outcome; the
/// phase is `capturing` meanwhile, so the watchdog is not running (no
/// staleness is counted), viewers keep their connections and get the
/// "capturing" card, and live frames resume by themselves. Without a command
/// the capture stores the current frame if it is fresh, or waits (up to the
/// timeout) for a fresh one; it never stores an old one. Without
/// `pause_live` the command runs next to live view and the phase stays as is.
/// Queued captures after a paused one wait for live view to come back first.
///
/// Files are complete or absent (`AtomicFile`); the row says `done` only
/// once its file is in place.
extension Camera {
    /// Queues a capture. Throws `CaptureError.cameraStopped` or
    /// `.queueFull`.
    public func requestCapture() async throws -> CaptureRecord {
        guard !isShutDown else { throw CaptureError.shuttingDown }
        guard desired == .running else { throw CaptureError.cameraStopped }
        guard isHeld else { throw CaptureError.elsewhere }
        // Requests whose row is being written count too: the actor takes
        // other requests while one awaits the store.
        guard captureQueue.count + capturesBeingSaved < config.capture.queue else {
            throw CaptureError.queueFull(limit: config.capture.queue)
        }
        guard let store, capturesDir != nil else {
            throw CaptureError.failed("captures need a data dir")
        }
        let record = CaptureRecord(id: Identifier.newRecordID(), camera: id)
        capturesBeingSaved += 1
        defer { capturesBeingSaved -= 1 }
        do {
            try await store.saveCapture(record)
        } catch let error where StorageFull.isCause(of: error) {
            throw CaptureError.storageFull("\(error)")
        }
        // A shutdown that came during the write has already failed the queue.
        guard !isShutDown else {
            var failed = record
            failed.status = .failed
            failed.error = CaptureError.shuttingDown.message
            failed.finishedAt = Date().timeIntervalSince1970
            await save(failed)
            throw CaptureError.shuttingDown
        }
        captureQueue.append(record)
        if captureWorker == nil {
            captureWorker = Task { [weak self] in await self?.runQueuedCaptures() }
        }
        return record
    }

    public func captureActivity() -> CaptureActivity {
        guard let current = currentCapture, let startedAt = current.startedAt else {
            return CaptureActivity(isCapturing: false, queued: captureQueue.count)
        }
        return CaptureActivity(
            isCapturing: true, captureID: current.id,
            startedAt: ISO8601.string(Date(timeIntervalSince1970: startedAt)),
            elapsedSeconds: ((Date().timeIntervalSince1970 - startedAt) * 1000).rounded() / 1000,
            queued: captureQueue.count)
    }

    /// Ends the capture worker (shutdown): the running capture is cancelled
    /// (its command killed), waiting ones are failed.
    func stopCaptures() async {
        let waiting = captureQueue
        captureQueue.removeAll()
        for var record in waiting {
            record.status = .failed
            record.error = CaptureError.shuttingDown.message
            record.finishedAt = Date().timeIntervalSince1970
            try? await store?.saveCapture(record)
        }
        guard let worker = captureWorker else { return }
        worker.cancel()
        await worker.value
    }

    private func runQueuedCaptures() async {
        while !Task.isCancelled, !captureQueue.isEmpty {
            await runCapture(captureQueue.removeFirst())
            if capturer != nil, config.capture.pauseLive, !captureQueue.isEmpty, desired == .running {
                // Live view comes back between captures: the next one waits
                // for the fresh source's first frame (at most stale_after).
                _ = await Self.waitForFreshFrame(
                    hub: hub, maxAge: config.maxFrameAge, timeout: config.staleAfter, newerThan: .now)
            }
        }
        captureWorker = nil
    }

    private func runCapture(_ queued: CaptureRecord) async {
        var record = queued
        record.status = .running
        record.startedAt = Date().timeIntervalSince1970
        currentCapture = record
        await save(record)
        publish(.started, record)
        let outcome: Result<ParsedJPEGInfo, CaptureError>
        if desired != .running {
            outcome = .failure(.cameraStopped)
        } else if let capturer {
            outcome = await captureWithCommand(capturer, id: record.id)
        } else {
            outcome = await captureFreshFrame(id: record.id)
        }
        record.finishedAt = Date().timeIntervalSince1970
        switch outcome {
        case .success(let info):
            record.status = .done
            record.file = info.file
            record.bytes = info.bytes
            record.width = info.width
            record.height = info.height
            logger.info(
                "capture \(record.id) done: \(info.bytes) bytes in \(Self.format(.seconds(record.durationSeconds ?? 0)))"
            )
        case .failure(let error):
            record.status = .failed
            record.error = error.message
            logger.warning("capture \(record.id) failed: \(error.message)")
        }
        currentCapture = nil
        await save(record)
        publish(record.status == .done ? .done : .failed, record)
    }

    private func publish(_ kind: CaptureChange.Kind, _ record: CaptureRecord) {
        let (camera, capture) = (id, record.wire)
        feed.publish { .capture(CaptureChange(kind: kind, version: $0, camera: camera, record: capture)) }
    }

    private func save(_ record: CaptureRecord) async {
        do {
            try await store?.saveCapture(record)
        } catch {
            logger.error("cannot save capture \(record.id): \(error)")
        }
    }

    struct ParsedJPEGInfo: Sendable {
        var file: String
        var bytes: Int
        var width: Int
        var height: Int
    }

    // MARK: - With a command

    private func captureWithCommand(_ capturer: any StillCapturer, id captureID: String) async -> Result<
        ParsedJPEGInfo, CaptureError
    > {
        let pause = config.capture.pauseLive
        if pause {
            pausedForCapture = true
            await stopSupervisor()
            setPhase(.capturing)
        }
        let result = await runCommand(capturer, id: captureID)
        if pause {
            pausedForCapture = false
            if desired == .running, !isShutDown, isHeld {
                spawnSupervisor()  // a fresh source, exactly as at cold start
            } else {
                setPhase(.stopped)
            }
        }
        return result
    }

    private func runCommand(_ capturer: any StillCapturer, id captureID: String) async -> Result<
        ParsedJPEGInfo, CaptureError
    > {
        guard let dir = capturesDir else { return .failure(.failed("captures need a data dir")) }
        let name = "\(captureID).jpg"
        let path = Path.join(dir, name)
        let partial = AtomicFile.partialPath(for: path)
        let timeout = config.capture.timeout
        let outcome = await withTimeout(timeout) { () -> CaptureError? in
            do {
                try await capturer.capture(to: partial)
                return nil
            } catch let error as CaptureError {
                return error
            } catch {
                return Task.isCancelled ? .shuttingDown : .failed("\(error)")
            }
        }
        let finished: CaptureError?
        switch outcome {
        case .finished(let error): finished = error
        case .timedOut: finished = .timedOut(timeout)
        case .cancelled: finished = .shuttingDown
        }
        if let finished {
            unlink(partial)
            return .failure(finished)
        }
        // The command says it wrote the image: check that it is one JPEG.
        let maxBytes = 256 * 1024 * 1024
        guard let data = FileManager.default.contents(atPath: partial), !data.isEmpty else {
            unlink(partial)
            return .failure(.failed("the command succeeded but wrote no image to {output}"))
        }
        guard data.count <= maxBytes,
            let jpeg = JPEGFrameParser.single(ByteBuffer(bytes: data), maxFrameBytes: maxBytes)
        else {
            unlink(partial)
            return .failure(.failed("the command wrote \(data.count) bytes that are not one complete JPEG"))
        }
        do {
            try AtomicFile.commit(partial: partial, to: path)
        } catch {
            return .failure(.failed("\(error)"))
        }
        return .success(ParsedJPEGInfo(file: name, bytes: data.count, width: jpeg.width, height: jpeg.height))
    }

    // MARK: - Without a command

    private func captureFreshFrame(id captureID: String) async -> Result<ParsedJPEGInfo, CaptureError> {
        guard let dir = capturesDir else { return .failure(.failed("captures need a data dir")) }
        let maxAge = config.maxFrameAge
        let timeout = config.capture.timeout
        var frame = hub.latest(maxAge: maxAge)
        if frame == nil {
            frame = await Self.waitForFreshFrame(hub: hub, maxAge: maxAge, timeout: timeout)
        }
        guard let frame else { return .failure(.noFreshFrame(waited: timeout)) }
        let name = "\(captureID).jpg"
        let path = Path.join(dir, name)
        do {
            try frame.jpeg.withUnsafeReadableBytes { try AtomicFile.write($0, to: path) }
        } catch {
            return .failure(.failed("\(error)"))
        }
        return .success(
            ParsedJPEGInfo(file: name, bytes: frame.jpeg.readableBytes, width: frame.width, height: frame.height))
    }

    /// The first real frame younger than `maxAge` (and captured after
    /// `newerThan`, if given) within `timeout`, or nil.
    public static func waitForFreshFrame(
        hub: FrameHub, maxAge: Duration, timeout: Duration, newerThan: ContinuousClock.Instant? = nil
    ) async -> Frame? {
        let mailbox = FrameMailbox()
        guard hub.subscribe(mailbox, isViewer: false) else { return nil }
        defer { hub.unsubscribe(mailbox, isViewer: false) }
        @Sendable func acceptable(_ frame: Frame) -> Bool {
            !frame.isPlaceholder && frame.age <= maxAge && newerThan.map { frame.capturedAt > $0 } ?? true
        }
        // Subscribed first, then checked: a frame between the two is not missed.
        if let frame = hub.latest(maxAge: maxAge), acceptable(frame) { return frame }
        let outcome = await withTimeout(timeout) { () -> Frame? in
            while let frame = await mailbox.next() {
                if acceptable(frame) { return frame }
            }
            return nil
        }
        guard case .finished(let frame) = outcome else { return nil }
        return frame
    }
}
