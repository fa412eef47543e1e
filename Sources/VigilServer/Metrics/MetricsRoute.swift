import Hummingbird
import Prometheus

/// `GET /metrics` (the viewer role, or a token with the `metrics` role).
struct MetricsRoute {
    let exporter: MetricsExporter

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: await exporter.render()))
        }
    }
}
