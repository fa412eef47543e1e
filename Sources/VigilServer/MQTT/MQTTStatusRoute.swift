import Hummingbird
import VigilAPI

/// `GET /api/v1/mqtt`: the broker connection (connected, last error,
/// queued and dropped messages); 404 `mqtt_off` without an `mqtt:` section.
struct MQTTStatusRoute {
    let bridge: MQTTBridge?

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/api/v1/mqtt") { _, _ -> BrokerStatus in
            guard let bridge else { throw APIError(.notFound, "mqtt_off", "no mqtt: section in the config") }
            return bridge.status
        }
    }
}
