import HTTPTypes
import Hummingbird
import VigilAPI

/// `GET /readyz`: 200 when every camera whose `desired` is `running` is
/// `live`, else 503 with those that are not (for a load balancer, a
/// deployment's health check, `systemctl` scripts). `/healthz` says only
/// that the process answers.
struct ReadinessRoute {
    let registry: CameraRegistry

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/readyz") { _, _ -> EditedResponse<Readiness> in
            let readiness = Readiness(cameras: await registry.states())
            return EditedResponse(
                status: readiness.ready ? .ok : .serviceUnavailable, headers: [.cacheControl: "no-store"],
                response: readiness)
        }
    }
}
