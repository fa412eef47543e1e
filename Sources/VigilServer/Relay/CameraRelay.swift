import Logging
import Synchronization
import VigilAPI
import VigilCore
import VigilSources

/// Relays one camera that runs elsewhere (on its cluster owner, or on the
/// origin of an edge relay) into this node's hub, on demand: one upstream
/// MJPEG connection, started by the first viewer (or a snapshot), shared by
/// every viewer here, stopped `linger` after the last one left, and moved
/// when the camera's owner changes. Never while the camera runs here.
final class CameraRelay: Sendable {
    let camera: Camera
    private let directory: RelayDirectory
    private let linger: Duration
    /// Presented to the upstream (`Bearer`), when it asks for credentials.
    private let token: String?
    private let logger: Logger
    /// Last time a snapshot asked for frames (it is no viewer, but wants one).
    private let pokedAt = Mutex<ContinuousClock.Instant?>(nil)

    init(camera: Camera, directory: RelayDirectory, linger: Duration, token: String?, logger: Logger) {
        self.camera = camera
        self.directory = directory
        self.linger = linger
        self.token = token
        var logger = logger
        logger[metadataKey: "camera"] = "\(camera.id)"
        self.logger = logger
    }

    /// Someone wants a frame now (a snapshot): the relay runs for `linger` at least.
    func poke() {
        pokedAt.withLock { $0 = .now }
        camera.hub.demandChanged.push(())
    }

    /// Runs until cancelled; checks at every change of demand, and twice a
    /// second while it relays or someone waits for it to.
    func run() async {
        var upstream: (url: String, task: Task<Void, Never>)?
        var idleSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let poked = pokedAt.withLock { $0 }.map { now - $0 < linger } ?? false
            let wanted = camera.hub.viewerCount > 0 || poked
            if wanted { idleSince = nil } else if idleSince == nil { idleSince = now }
            let url = await camera.isHeldHere ? nil : directory.upstream(of: camera.id)
            let keep = url != nil && (wanted || idleSince.map { now - $0 < linger } ?? false)
            if let current = upstream, !keep || current.url != url {
                current.task.cancel()
                await current.task.value
                upstream = nil
                camera.hub.isLive = false
                logger.info("relay: stopped (\(keep ? "the camera moved" : "no viewer for \(linger)"))")
            }
            if keep, upstream == nil, let url {
                logger.info("relay: from \(url)")
                upstream = (url, Task { await self.relay(from: url) })
            }
            if upstream == nil, !wanted {
                // Nothing to do until someone wants the camera: no polling,
                // which matters with hundreds of cameras that nobody watches.
                _ = await camera.hub.demandChanged.next()
            } else {
                // Watch for the owner moving, the camera coming here, the linger ending.
                _ = await withTimeout(.milliseconds(500)) { await self.camera.hub.demandChanged.next() }
            }
        }
        if let current = upstream {
            current.task.cancel()
            await current.task.value
        }
    }

    /// Reads the upstream's MJPEG stream into the hub, reconnecting after a
    /// second when it fails, until cancelled.
    private func relay(from base: String) async {
        var config = MJPEGConfig(url: base + APIPath.stream(camera.id))
        config.connectTimeout = .seconds(3)
        config.bearerToken = token
        var sourceLogger = logger
        sourceLogger[metadataKey: "relay"] = "\(base)"
        while !Task.isCancelled {
            let sink = FrameSink(hub: camera.hub)
            let source = MJPEGSource(
                context: SourceContext(camera: camera.config, logger: sourceLogger), config: config)
            camera.hub.isLive = true
            let failure = await Self.runWatched(source, into: sink, staleAfter: camera.config.staleAfter)
            if Task.isCancelled { return }
            logger.warning("relay: \(failure); again in 1 s")
            camera.hub.isLive = false
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Runs `source` until it fails, ends, or delivers nothing for
    /// `staleAfter` (the upstream sends placeholders when its camera has no
    /// frame, so silence means a dead connection); answers why it stopped.
    private static func runWatched(_ source: MJPEGSource, into sink: FrameSink, staleAfter: Duration) async -> String {
        await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    try await source.run(into: sink)
                    return "the upstream ended the stream"
                } catch {
                    return "\(error)"
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: .milliseconds(250))) != nil {
                    if ContinuousClock.now - sink.lastFrameAt > staleAfter { return "no frame for \(staleAfter)" }
                }
                return "cancelled"
            }
            let first = await group.next() ?? "cancelled"
            group.cancelAll()
            await group.waitForAll()
            return first
        }
    }
}
