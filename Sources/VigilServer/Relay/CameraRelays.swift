import Logging
import ServiceLifecycle
import VigilCore

/// The relays of every camera that may run elsewhere (`CameraRelay`), run
/// for the server's lifetime.
final class CameraRelays: Service, Sendable {
    let directory: RelayDirectory
    private let relays: [String: CameraRelay]

    /// A relay stops this long after its last viewer: a page reload or a
    /// viewer that comes back soon reuses the upstream connection.
    static let linger: Duration = .seconds(5)

    /// `token`: presented to the upstream nodes (`cluster.token`, or the
    /// edge relay's token for its origin).
    init(cameras: [Camera], directory: RelayDirectory, token: String?, logger: Logger) {
        self.directory = directory
        relays = Dictionary(
            uniqueKeysWithValues: cameras.map {
                (
                    $0.id,
                    CameraRelay(camera: $0, directory: directory, linger: Self.linger, token: token, logger: logger)
                )
            })
    }

    func relay(of camera: String) -> CameraRelay? {
        relays[camera]
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for relay in self.relays.values {
                    group.addTask { await relay.run() }
                }
            }
        }
    }
}
