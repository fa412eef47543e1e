import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import VigilCore

/// What `READY=1` waits for: the HTTP server listening and every camera
/// started.
final class StartupProgress: Sendable {
    private struct State {
        var port: Int?
        var camerasStarted = false
        var waiter: CheckedContinuation<Int, Never>?
    }
    private let state = Mutex(State())

    func listening(on port: Int) {
        resume { $0.port = port }
    }

    func camerasStarted() {
        resume { $0.camerasStarted = true }
    }

    /// Returns the port once both have happened.
    func ready() async -> Int {
        await withCheckedContinuation { continuation in
            let port = state.withLock { state -> Int? in
                if let port = state.port, state.camerasStarted { return port }
                state.waiter = continuation
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    private func resume(_ change: (inout State) -> Void) {
        let (waiter, port) = state.withLock { state -> (CheckedContinuation<Int, Never>?, Int) in
            change(&state)
            guard let port = state.port, state.camerasStarted, let waiter = state.waiter else { return (nil, 0) }
            state.waiter = nil
            return (waiter, port)
        }
        waiter?.resume(returning: port)
    }
}

/// Tells systemd how the server is doing: `READY=1` once it listens and its
/// cameras are started, `WATCHDOG=1` while it works, `STOPPING=1` when it
/// shuts down.
///
/// The watchdog ping is sent only after a probe of what a hung server would
/// not do: every camera actor answers, every event loop runs a task, the
/// change feed's lock is free. If any of them does not answer within the
/// ping interval, no ping is sent and systemd restarts the server at
/// `WatchdogSec`.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let progress: StartupProgress
    let registry: CameraRegistry
    let logger: Logger

    func run() async throws {
        guard notifier.isActive else { return }
        await withTaskCancellationOrGracefulShutdownHandler {
            let port = await progress.ready()
            notifier.notify(
                "READY=1\nSTATUS=listening on port \(port), \(registry.cameras.count) camera(s)", logger: logger)
            logger.info("systemd: ready\(notifier.watchdogInterval.map { ", watchdog every \($0)" } ?? "")")
            guard let interval = notifier.watchdogInterval else {
                try? await gracefulShutdown()
                return
            }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let started = ContinuousClock.now
                switch await withTimeout(interval, { await probe() }) {
                case .finished:
                    notifier.notify("WATCHDOG=1", logger: logger)
                case .timedOut:
                    logger.error(
                        "watchdog: the server did not answer its probe within \(interval); not telling systemd")
                case .cancelled:
                    return
                }
                let rest = interval - (ContinuousClock.now - started)
                if rest > .zero { try? await Task.sleep(for: rest) }
            }
        } onCancelOrGracefulShutdown: {
            notifier.notify("STOPPING=1", logger: logger)
        }
    }

    /// Completes only if the parts a hung server would stop are answering.
    private func probe() async {
        for camera in registry.cameras {
            _ = await camera.state()
        }
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            try? await loop.submit {}.get()
        }
        _ = registry.feed.currentVersion
    }
}
