import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `Type=notify` as systemd runs it: `sd_notify` datagrams on a socket the
/// test binds (`NOTIFY_SOCKET`), and `/readyz`.
@Suite(.serialized) struct SystemdTests {
    /// An `AF_UNIX` datagram socket that keeps every message it receives.
    final class NotifySocket: Sendable {
        let path: String
        private let fd: Int32
        private let messages = Mutex<[String]>([])

        init(path: String) throws {
            self.path = path
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0 else { throw HTTPTestError(description: "cannot bind \(path): errno \(errno)") }
            Thread.detachNewThread { [weak self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { return }
                    let text = String(decoding: buffer[..<count], as: UTF8.self)
                    self?.messages.withLock { $0.append(text) }
                }
            }
        }

        var all: [String] { messages.withLock { $0 } }

        func close() {
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
            unlink(path)
        }
    }

    @Test func readyThenWatchdogPingsThenStopping() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        defer { notify.close() }
        let server = try VigilProcess(
            config: """
                cameras:
                  alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
                """, dir: dir, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])
        defer { server.stop() }
        try await waitUntil("READY=1") { notify.all.contains { $0.hasPrefix("READY=1") } }
        #expect(notify.all.first?.hasPrefix("READY=1\nSTATUS=listening on port \(server.port), 1 camera(s)") == true)
        try await waitUntil("three watchdog pings") { notify.all.filter { $0 == "WATCHDOG=1" }.count >= 3 }
        server.stop()
        try await waitUntil("STOPPING=1") { notify.all.contains("STOPPING=1") }
        let order = notify.all.map { $0.hasPrefix("READY=1") ? "READY=1" : $0 }
        #expect(order.first == "READY=1")
        #expect(order.firstIndex(of: "STOPPING=1")! > order.lastIndex(of: "WATCHDOG=1")!, "\(order)")
        #expect(Set(order) == ["READY=1", "WATCHDOG=1", "STOPPING=1"], "\(order)")
    }

    @Test func readyzWaitsForEveryCameraThatShouldRun() async throws {
        let config = """
            cameras:
              alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
              door: {source: {kind: push}}
            """
        try await withServer(config: config) { server, _ in
            try await waitUntil("alpha live") {
                try HTTPTestClient.camera(port: server.port, "alpha")["phase"] as? String == "live"
            }
            let waiting = try HTTPTestClient.request(port: server.port, "GET", "/readyz")
            #expect(waiting.status == 503)
            let body = try waiting.json()
            #expect(body["ready"] as? Bool == false)
            let names = (body["waiting"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(names == ["door"], "\(waiting.text)")

            // A camera that is meant to be stopped does not hold readiness back.
            _ = try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/door/stop")
            let ready = try HTTPTestClient.request(port: server.port, "GET", "/readyz")
            #expect(ready.status == 200, "\(ready.text)")
            #expect(try ready.json()["ready"] as? Bool == true)
        }
    }
}
