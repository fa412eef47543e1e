import Logging
import ServiceLifecycle
import VigilAPI
import VigilClient
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An edge relay's origin (`relay_of: URL`): the node whose cameras it
/// serves. The edge learns the cameras from the origin at start, mirrors
/// their states and events from its events socket (so its page and API
/// show them as the origin does), and relays their frames on demand.
/// Everything else (start, stop, captures, recorded events) is the
/// origin's: the edge redirects those requests there.
struct EdgeOrigin: Sendable {
    /// The origin's base URL (without the token).
    let url: String
    /// `relay_of: http://origin:8080/?token=T`: the token the edge presents
    /// to the origin (a viewer's is enough).
    let token: String?
    let logger: Logger

    init(relayOf: String, logger: Logger) {
        var base = relayOf
        if let question = relayOf.firstIndex(of: "?") { base = String(relayOf[..<question]) }
        while base.hasSuffix("/") { base.removeLast() }
        self.url = base
        self.token = URLComponents(string: relayOf)?.queryItems?.first { $0.name == "token" }?.value
        self.logger = logger
    }

    /// The origin's cameras, as cameras here that never run a source of
    /// their own. Waits up to `patience` for the origin to answer.
    func cameras(patience: Duration = .seconds(60)) async throws -> [CameraConfig] {
        let client = try VigilClient(url: url, token: token)
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                let states = try await client.cameras()
                logger.notice(
                    "edge relay of \(url): \(states.count) camera(s): \(states.map(\.id).joined(separator: ", "))")
                return states.map {
                    CameraConfig(id: $0.id, source: .mjpeg(MJPEGConfig(url: url + APIPath.stream($0.id))))
                }
            } catch {
                guard ContinuousClock.now < deadline, !Task.isCancelled else {
                    throw EdgeOriginError(description: "relay_of: cannot list the cameras of \(url): \(error)")
                }
                logger.warning("edge relay: \(url) does not answer yet (\(error)); retrying")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

struct EdgeOriginError: Error, CustomStringConvertible {
    let description: String
}

/// Keeps the edge's cameras showing the origin's states and events.
struct EdgeMirror: Service {
    let origin: EdgeOrigin
    let registry: CameraRegistry

    func run() async throws {
        let mirror = StateMirror(client: try VigilClient(url: origin.url, token: origin.token))
        let changes = mirror.changes()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await mirror.run() }
                group.addTask {
                    for await change in changes { await apply(change) }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func apply(_ change: StateMirror.Change) async {
        switch change {
        case .replaced(let snapshot, _):
            for state in snapshot.cameras.values { await registry.camera(state.id)?.mirror(state, from: state.owner) }
        case .camera(let state):
            await registry.camera(state.id)?.mirror(state, from: state.owner)
        case .event(.motion(let change)):
            registry.feed.publish(origin: origin.url) { version in
                var change = change
                change.version = version
                return .motion(change)
            }
        case .event(.capture(let change)):
            registry.feed.publish(origin: origin.url) { version in
                var change = change
                change.version = version
                return .capture(change)
            }
        case .connected:
            origin.logger.info("edge relay: following \(origin.url)")
        case .disconnected(let reason):
            origin.logger.warning("edge relay: lost \(origin.url) (\(reason)); reconnecting")
        case .event:
            break
        }
    }
}
