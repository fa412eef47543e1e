import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `GET /metrics` read by the real tools: `promtool check metrics` and a
/// Prometheus server that scrapes a real `vigil serve` with a token.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MetricsTests {
    /// The token of the test's `metrics` credential.
    static let token = "scrape-token-for-tests"

    static func config(_ dir: TempDir) -> String {
        """
        auth:
          tokens:
            - {name: prometheus, role: metrics, token_sha256: "\(tokenSHA256(token))"}
            - {name: wall, role: viewer, token_sha256: "\(tokenSHA256("viewer-token"))"}
            - {name: panel, role: operator, token_sha256: "\(tokenSHA256("operator-token"))"}
        cameras:
          alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
          idle: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
          quits:
            source:
              kind: exec
              command: \(Binaries.fakeCameraCommand(["--fps", "20", "--size", "160x120", "--exit-after", "10"]))
            restart: {initial_backoff: 100ms, max_backoff: 200ms}
          stalls:
            source:
              kind: exec
              command: \(Binaries.fakeCameraCommand(["--fps", "20", "--size", "160x120", "--stall-after", "10"]))
            stale_after: 1s
            restart: {initial_backoff: 100ms, max_backoff: 200ms}
        """
    }

    static func scrape(_ port: Int, token: String?) throws -> HTTPTestResponse {
        try HTTPTestClient.request(port: port, "GET", "/metrics", token: token)
    }

    /// Stops a camera as the operator.
    static func stop(_ port: Int, _ camera: String) throws {
        let answer = try HTTPTestClient.request(
            port: port, "POST", "/api/v1/cameras/\(camera)/stop", token: "operator-token")
        guard answer.status == 200 else { throw HTTPTestError(description: "stop \(camera): \(answer.text)") }
    }

    /// One sample of `name` with `labels` in a scrape; nil when missing.
    static func sample(_ text: String, _ name: String, _ labels: String) -> Double? {
        let prefix = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test func promtoolAcceptsTheScrapeAndTheCountersCountWhatHappened() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(config: Self.config(dir), dir: dir)
        defer { server.stop() }

        #expect(try Self.scrape(server.port, token: nil).status == 401)
        #expect(try Self.scrape(server.port, token: "viewer-token").status == 200)
        // The metrics token opens /metrics and nothing else.
        #expect(
            try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras", token: Self.token).status == 403)

        try Self.stop(server.port, "idle")
        try await waitUntil("an exit and a stall counted", timeout: .seconds(30)) {
            let text = try Self.scrape(server.port, token: Self.token).text
            return (Self.sample(text, "vigil_camera_restarts_total", #"camera="quits",reason="exited""#) ?? 0) >= 1
                && (Self.sample(text, "vigil_camera_restarts_total", #"camera="stalls",reason="stale""#) ?? 0) >= 1
        }
        let text = try Self.scrape(server.port, token: Self.token).text
        #expect(Self.sample(text, "vigil_camera_restarts_total", #"camera="quits",reason="stale""#) == 0)
        #expect(Self.sample(text, "vigil_camera_restarts_total", #"camera="stalls",reason="exited""#) == 0)
        #expect(Self.sample(text, "vigil_camera_restarts_total", #"camera="alpha",reason="error""#) == 0)
        #expect(Self.sample(text, "vigil_camera_phase", #"camera="idle",phase="stopped""#) == 1)
        #expect(Self.sample(text, "vigil_camera_phase", #"camera="alpha",phase="live""#) == 1)
        #expect((Self.sample(text, "vigil_camera_frames_received_total", #"camera="alpha""#) ?? 0) > 0)
        #expect((Self.sample(text, "vigil_process_resident_memory_bytes", "") ?? 0) > 1_000_000)
        #expect(text.contains("vigil_camera_recovery_seconds_bucket{"), "no recovery histogram")

        let file = dir.file("scrape.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        promtool.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        let output = Pipe()
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0, "promtool check metrics: \(said)")
    }

    @Test func aPrometheusServerScrapesItWithTheToken() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let server = try VigilProcess(config: Self.config(dir), dir: dir)
        defer { server.stop() }
        try Self.stop(server.port, "idle")

        let prometheus = try PrometheusServer(
            dir: dir,
            scrapeConfig: """
                scrape_configs:
                  - job_name: vigil
                    scrape_interval: 1s
                    authorization: {credentials: \(Self.token)}
                    static_configs: [{targets: ["127.0.0.1:\(server.port)"]}]
                """)
        defer { prometheus.stop() }

        func frames(_ camera: String) async throws -> Double? {
            try await prometheus.query("vigil_camera_frames_received_total{camera=\"\(camera)\"}")
        }
        try await waitUntil("a first scrape", timeout: .seconds(60)) { try await frames("alpha") != nil }
        let alpha = try #require(try await frames("alpha"))
        let idle = try #require(try await frames("idle"))
        try await waitUntil("alpha's counter rising", timeout: .seconds(60)) {
            (try await frames("alpha") ?? 0) > alpha
        }
        #expect(try await frames("idle") == idle, "a stopped camera's counter stays flat")
        #expect(try await prometheus.query("up{job=\"vigil\"}") == 1)
    }
}

/// A real Prometheus server on 127.0.0.1 with its data in a temp dir.
final class PrometheusServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(dir: TempDir, scrapeConfig: String) throws {
        let config = dir.file("prometheus.yml")
        try scrapeConfig.write(toFile: config, atomically: true, encoding: .utf8)
        port = try freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = [
            "--config.file=\(config)", "--storage.tsdb.path=\(dir.file("prometheus-data"))",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=error",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The value of an instant query with one result; nil when it has none.
    func query(_ promQL: String) async throws -> Double? {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "query", value: promQL)]
        let query = components.percentEncodedQuery ?? ""
        guard let response = try? HTTPTestClient.request(port: port, "GET", "/api/v1/query?\(query)"),
            response.status == 200
        else { return nil }
        let body = try response.json()
        guard let data = body["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
            let value = result.first?["value"] as? [Any], let text = value.last as? String
        else { return nil }
        return Double(text)
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
