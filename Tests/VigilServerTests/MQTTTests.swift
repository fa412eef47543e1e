import Foundation
import Synchronization
import Testing
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

/// Vigil on MQTT against a real mosquitto broker, watched with mosquitto_sub
/// and commanded with mosquitto_pub: availability and the last will, states,
/// motion, captures, commands and their refusal, a restarted broker, a
/// zombie broker, messages kept while the broker is away, refused
/// credentials and a broker that speaks garbage.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MQTTTests {
    static func config(broker: Int, mqtt: String = "", cameras: String? = nil, auth: String = "") -> String {
        """
        \(auth)
        cameras:
        \(cameras ?? "  alpha: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}")
        mqtt: {url: "mqtt://127.0.0.1:\(broker)", keepalive: 2s\(mqtt)}
        """
    }

    static func status(_ server: VigilProcess, token: String? = nil) throws -> [String: Any] {
        try HTTPTestClient.request(port: server.port, "GET", "/api/v1/mqtt", token: token).json()
    }

    @Test func availabilityStatesDiscoveryAndTheWillWhenKilled() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(dir: dir)
        defer { broker.stop() }
        let watcher = try MQTTWatcher(port: broker.port)
        defer { watcher.stop() }
        let server = try VigilProcess(config: Self.config(broker: broker.port), dir: dir)
        defer { server.stop() }

        try await waitUntil("online") { watcher.texts("vigil/available") == ["online"] }
        try await waitUntil("alpha's state") {
            watcher.texts("vigil/alpha/state").contains { $0.contains(#""phase":"live""#) }
        }
        #expect(watcher.texts("vigil/alpha/running") == ["ON"], "published once, not with every state")
        let discovery = watcher.messages.map(\.topic).filter { $0.hasPrefix("homeassistant/") }
        #expect(
            Set(discovery) == [
                "homeassistant/camera/vigil/alpha/config", "homeassistant/binary_sensor/vigil/alpha_motion/config",
                "homeassistant/switch/vigil/alpha_running/config", "homeassistant/button/vigil/alpha_capture/config",
            ])
        let camera = try #require(watcher.texts("homeassistant/camera/vigil/alpha/config").first)
        #expect(
            camera.contains(#""topic":"vigil/alpha/snapshot""#)
                && camera.contains(#""availability_topic":"vigil/available""#))

        kill(server.pid, SIGKILL)
        try await waitUntil("the will") { watcher.texts("vigil/available") == ["online", "offline"] }
    }

    @Test func commandsActWithTheOperatorRoleAndAreRefusedBelowIt() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(dir: dir)
        defer { broker.stop() }
        let watcher = try MQTTWatcher(port: broker.port, filter: "vigil/#")
        defer { watcher.stop() }
        let auth = """
            auth:
              tokens:
                - {name: automation, role: operator, token_sha256: "\(tokenSHA256("a"))"}
                - {name: kiosk, role: viewer, token_sha256: "\(tokenSHA256("k"))"}
            """
        let operatorServer = try VigilProcess(
            config: Self.config(broker: broker.port, mqtt: ", username: automation", auth: auth), dir: dir)
        try await waitUntil("connected") { watcher.texts("vigil/available").last == "online" }
        try await waitUntil("alpha live") {
            watcher.texts("vigil/alpha/state").contains { $0.contains(#""phase":"live""#) }
        }

        try mqttPublish(port: broker.port, topic: "vigil/alpha/set", "stop")
        try await waitUntil("stopped") {
            watcher.texts("vigil/alpha/state").last?.contains(#""phase":"stopped""#) == true
        }
        try await waitUntil("the result") {
            watcher.texts("vigil/alpha/result").last == #"{"command":"stop","ok":true}"#
        }
        try mqttPublish(port: broker.port, topic: "vigil/alpha/set", "start")
        try await waitUntil("live again") {
            watcher.texts("vigil/alpha/state").last?.contains(#""phase":"live""#) == true
        }
        try mqttPublish(port: broker.port, topic: "vigil/alpha/set", "capture")
        try await waitUntil("the capture") {
            watcher.texts("vigil/alpha/capture").contains { $0.contains(#""status":"done""#) }
        }
        try mqttPublish(port: broker.port, topic: "vigil/alpha/set", "dance")
        try await waitUntil("an unknown command refused") {
            watcher.texts("vigil/alpha/result").last?.contains("unknown command") == true
        }
        operatorServer.stop()

        let viewerServer = try VigilProcess(
            config: Self.config(broker: broker.port, mqtt: ", username: kiosk", auth: auth), dir: dir)
        defer { viewerServer.stop() }
        let results = watcher.texts("vigil/alpha/result").count
        try await waitUntil("connected again") {
            try Self.status(viewerServer, token: "k")["connected"] as? Bool == true
        }
        try await waitUntil("the kiosk's subscription") {
            try mqttPublish(port: broker.port, topic: "vigil/alpha/set", "stop")
            return watcher.texts("vigil/alpha/result").count > results
        }
        let refusal = try #require(watcher.texts("vigil/alpha/result").last)
        #expect(
            refusal.contains(#""ok":false"#) && refusal.contains("has the viewer role; commands need operator"),
            "\(refusal)")
        let camera = try HTTPTestClient.request(port: viewerServer.port, "GET", "/api/v1/cameras/alpha")
        #expect(camera.status == 401, "the viewer server asks for credentials")
        #expect(watcher.texts("vigil/alpha/running").last == "ON", "the refused stop changed nothing")
    }

    @Test func motionStartEndAndTheSnapshot() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(dir: dir)
        defer { broker.stop() }
        let watcher = try MQTTWatcher(port: broker.port, filter: "vigil/#")
        defer { watcher.stop() }
        let cameras = """
              door:
                source: {kind: push}
                stale_after: 30s
                motion: {enabled: true, analysis_fps: 10, threshold: 1, pre_capture: 500ms, post_capture: 1s, event_gap: 2s}
            """
        let server = try VigilProcess(config: Self.config(broker: broker.port, cameras: cameras), dir: dir)
        defer { server.stop() }
        try await waitUntil("connected") { watcher.texts("vigil/available").last == "online" }
        let pusher = MotionTests.Pusher(port: server.port)
        try await pusher.push(10, moving: false)
        try await pusher.push(20, moving: true)
        try await waitUntil("motion ON") { watcher.texts("vigil/door/motion").last == "ON" }
        try await pusher.push(40, moving: false)
        try await waitUntil("motion OFF") { watcher.texts("vigil/door/motion").last == "OFF" }
        let events = watcher.texts("vigil/events")
        #expect(
            events.count == 2 && events[0].contains(#""type":"start""#) && events[1].contains(#""type":"end""#),
            "\(events)")
        #expect(events.allSatisfy { $0.contains(#""camera":"door""#) })
        let snapshot = try #require(watcher.messages.last { $0.topic == "vigil/door/snapshot" })
        #expect(pusher.sent[snapshot.payload] != nil, "the snapshot is a frame the camera had")
    }

    @Test func aRestartedBrokerGetsANewConnectionAndTheRetainedStateAgain() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(dir: dir)
        defer { broker.stop() }
        let server = try VigilProcess(config: Self.config(broker: broker.port), dir: dir)
        defer { server.stop() }
        try await waitUntil("connected") { try Self.status(server)["connections"] as? Int == 1 }

        broker.stop()
        try await waitUntil("the loss noticed") { try Self.status(server)["connected"] as? Bool == false }
        try broker.start()  // a new broker: nothing retained
        try await waitUntil("a second connection") { try Self.status(server)["connections"] as? Int == 2 }
        let watcher = try MQTTWatcher(port: broker.port)
        defer { watcher.stop() }
        try await waitUntil("retained messages again") {
            watcher.texts("vigil/available") == ["online"] && !watcher.texts("vigil/alpha/state").isEmpty
        }
    }

    @Test func aSilentBrokerIsLeftByTheKeepalive() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(dir: dir)
        defer { broker.stop() }
        let server = try VigilProcess(config: Self.config(broker: broker.port), dir: dir)
        defer { server.stop() }
        try await waitUntil("connected") { try Self.status(server)["connected"] as? Bool == true }

        kill(broker.pid, SIGSTOP)
        try await waitUntil("the zombie left", timeout: .seconds(30)) {
            (try Self.status(server)["last_error"] as? String)?.contains("nothing from the broker for 2") == true
        }
        kill(broker.pid, SIGCONT)
        try await waitUntil("connected again", timeout: .seconds(60)) {
            let status = try Self.status(server)
            return status["connected"] as? Bool == true && (status["connections"] as? Int ?? 0) >= 2
        }
        let camera = try HTTPTestClient.camera(port: server.port, "alpha")
        #expect(camera["phase"] as? String == "live", "live view untouched")
    }

    @Test func messagesPublishedWhileTheBrokerIsAwayArriveAfterItReturns() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let broker = try Mosquitto(
            dir: dir,
            extra: "allow_anonymous true\npersistence true\nautosave_interval 1\npersistence_location \(dir.path)/"
                + (getuid() == 0 ? "\nuser root" : ""))
        defer { broker.stop() }
        // A persistent session: the broker keeps QoS 1 messages for it.
        var watcher = try MQTTWatcher(port: broker.port, filter: "vigil/alpha/capture", session: "watcher")
        let server = try VigilProcess(config: Self.config(broker: broker.port, mqtt: ", max_queued: 2"), dir: dir)
        defer { server.stop() }
        try await waitUntil("connected") { try Self.status(server)["connected"] as? Bool == true }
        // The watcher's session and subscription in place, and saved by the
        // broker (autosave every second) before it goes away.
        try await Task.sleep(for: .milliseconds(300))
        let subscribed = Date()
        let database = dir.file("mosquitto.db")
        try await waitUntil("the broker saved the watcher's session") {
            let attributes = try? FileManager.default.attributesOfItem(atPath: database)
            return (attributes?[.modificationDate] as? Date).map { $0 > subscribed } ?? false
        }
        watcher.stop()

        broker.stop()
        try await waitUntil("the loss noticed") { try Self.status(server)["connected"] as? Bool == false }
        for _ in 0..<3 {
            let capture = try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/alpha/captures")
            #expect(capture.status == 202)
            try await waitUntil("the capture done") {
                try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras/alpha/capture/status").text
                    .contains(#""queued":0"#)
            }
        }
        try await waitUntil("queued while away") { try Self.status(server)["queued"] as? Int == 2 }
        #expect(try Self.status(server)["dropped"] as? Int == 1, "the queue holds 2: the oldest of 3 dropped")

        try broker.start()
        try await waitUntil("flushed") {
            let status = try Self.status(server)
            return status["connected"] as? Bool == true && status["queued"] as? Int == 0
        }
        watcher = try MQTTWatcher(port: broker.port, filter: "vigil/alpha/capture", session: "watcher")
        defer { watcher.stop() }
        try await waitUntil("the kept messages delivered") { watcher.messages.count == 2 }
        #expect(watcher.messages.allSatisfy { $0.text.contains(#""status":"done""#) })
    }

    @Test func refusedCredentialsAndGarbageAreSaidAndRetried() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let passwords = dir.file("passwords")
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_passwd")
        make.arguments = ["-c", "-b", passwords, "vigil", "right"]
        try make.run()
        while make.isRunning { usleep(5_000) }
        let broker = try Mosquitto(dir: dir, extra: "allow_anonymous false\npassword_file \(passwords)")
        defer { broker.stop() }
        let refused = try VigilProcess(
            config: Self.config(broker: broker.port, mqtt: ", username: vigil, password: wrong"), dir: dir)
        defer { refused.stop() }
        try await waitUntil("refusal said") {
            (try Self.status(refused)["last_error"] as? String)?.contains(
                "the broker refused the connection: not authorized")
                == true
        }
        try await waitUntil("a log line") {
            refused.output.contains("mqtt 127.0.0.1:\(broker.port): the broker refused")
        }
        try await waitUntil("live view untouched") {
            try HTTPTestClient.camera(port: refused.port, "alpha")["phase"] as? String == "live"
        }

        // A "broker" that answers every connection with an HTTP error page.
        let garbage = try GarbageListener(reply: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        defer { garbage.stop() }
        let confused = try VigilProcess(config: Self.config(broker: garbage.port), dir: dir)
        defer { confused.stop() }
        try await waitUntil("garbage said") {
            (try Self.status(confused)["last_error"] as? String)?.contains("malformed MQTT from the broker") == true
        }
        try await waitUntil("retried") { garbage.connections >= 2 }
        try await waitUntil("live view untouched") {
            try HTTPTestClient.camera(port: confused.port, "alpha")["phase"] as? String == "live"
        }
    }
}

/// A TCP listener on 127.0.0.1 that answers each connection with `reply`
/// and closes it.
final class GarbageListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let accepted = Mutex(0)
    var connections: Int { accepted.withLock { $0 } }

    init(reply: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw HTTPTestError(description: "cannot listen: errno \(errno)") }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let bytes = Array(reply.utf8)
        Thread.detachNewThread { [weak self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                self?.accepted.withLock { $0 += 1 }
                _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                usleep(100_000)
                close(client)
            }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
