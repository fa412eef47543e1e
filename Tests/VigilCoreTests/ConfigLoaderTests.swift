import Testing
import VigilAPI
import VigilCore

@Suite struct ConfigLoaderTests {
    @Test func readsAFullConfig() throws {
        let config = try ConfigLoader.parse(
            """
            server:
              host: 0.0.0.0
              port: 9000
              data_dir: /var/lib/vigil
            cameras:
              porch:
                source:
                  kind: exec
                  command: [rpicam-vid, -t, "0", --codec, mjpeg, -o, "-"]
                  stop_grace: 500ms
                stale_after: 3s
                max_frame_age: 1.5
                restart: {initial_backoff: 100ms, max_backoff: 2m, stable_after: 30s}
              demo:
                source: {kind: testpattern, width: 640, height: 360, fps: 30, quality: 70}
            """)
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.port == 9000)
        #expect(config.server.dataDir == "/var/lib/vigil")
        #expect(config.cameras.map(\.id) == ["porch", "demo"])
        let porch = config.cameras[0]
        #expect(porch.staleAfter == .seconds(3))
        #expect(porch.maxFrameAge == .milliseconds(1500))
        #expect(porch.restart.initialBackoff == .milliseconds(100))
        #expect(porch.restart.maxBackoff == .seconds(120))
        guard case .exec(let exec) = porch.source else {
            Issue.record("porch should be exec")
            return
        }
        #expect(exec.command == ["rpicam-vid", "-t", "0", "--codec", "mjpeg", "-o", "-"])
        #expect(exec.stopGrace == .milliseconds(500))
        guard case .testPattern(let pattern) = config.cameras[1].source else {
            Issue.record("demo should be testpattern")
            return
        }
        #expect(pattern.width == 640 && pattern.fps == 30 && pattern.quality == 70)
    }

    @Test func emptyFileOrNoCamerasMeansTheDemoCamera() throws {
        #expect(try ConfigLoader.parse("").cameras.map(\.id) == ["demo"])
        #expect(try ConfigLoader.parse("server: {port: 1234}").cameras.map(\.id) == ["demo"])
    }

    @Test func reportsEveryMistakeWithItsKeyPath() {
        do {
            _ = try ConfigLoader.parse(
                """
                server:
                  port: 99999
                  hots: 1.2.3.4
                cameras:
                  porch:
                    source: {kind: exec, command: rpicam-vid}
                    stale_after: soon
                    colour: red
                  "bad id!":
                    source: {kind: testpattern}
                  lobby:
                    source: {kind: rtsp}
                  garage:
                    stale_after: 5s
                  shed:
                    source: {kind: testpattern, fps: 0, width: wide}
                """)
            Issue.record("expected errors")
        } catch let errors as ConfigErrors {
            let paths = errors.issues.map(\.path)
            #expect(
                Set(paths) == [
                    "server.port", "server.hots", "cameras.porch.source.command", "cameras.porch.stale_after",
                    "cameras.porch.colour", "cameras.bad id!", "cameras.lobby.source.kind",
                    "cameras.garage.source", "cameras.shed.source.fps", "cameras.shed.source.width",
                ])
            let text = errors.description
            #expect(text.contains("cameras.lobby.source.kind: unknown source kind 'rtsp'"))
            #expect(text.contains("server.hots: unknown key"))
            #expect(text.contains("server.port: 99999 is out of range"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func readsMJPEGSourcesAndRejectsBadURLs() throws {
        let config = try ConfigLoader.parse(
            """
            cameras:
              lobby:
                source: {kind: mjpeg, url: "http://10.0.0.7:8081/stream", username: view, password: secret, connect_timeout: 3s}
            """)
        guard case .mjpeg(let mjpeg) = config.cameras[0].source else {
            Issue.record("lobby should be mjpeg")
            return
        }
        #expect(mjpeg.url == "http://10.0.0.7:8081/stream")
        #expect(mjpeg.username == "view" && mjpeg.password == "secret")
        #expect(mjpeg.connectTimeout == .seconds(3))
        do {
            _ = try ConfigLoader.parse(
                """
                cameras:
                  a: {source: {kind: mjpeg, url: "https://cam/stream"}}
                  b: {source: {kind: mjpeg}}
                  c: {source: {kind: mjpeg, url: "not a url at all"}}
                """)
            Issue.record("expected errors")
        } catch let errors as ConfigErrors {
            #expect(
                errors.issues.map(\.path) == ["cameras.a.source.url", "cameras.b.source.url", "cameras.c.source.url"])
            #expect(errors.description.contains("only http:// URLs are supported"))
        }
    }

    @Test func invalidYAMLIsReported() {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.parse("cameras: [unclosed") }
    }

    @Test func durations() {
        // Found by `make fuzz`: a number of seconds too large for a Duration
        // crashed the parser; it is now no duration, and the config says so.
        #expect(DurationParser.parse(String(repeating: "4", count: 60) + "  ") == nil)
        #expect(DurationParser.parse("1e300s") == nil)
        #expect(DurationParser.parse("9e15ms") == nil)
        #expect(DurationParser.parse("100000h") == .seconds(360_000_000))
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse("cameras:\n  a:\n    source: {kind: push}\n    stale_after: 1e300\n")
        }
        #expect(DurationParser.parse("500ms") == .milliseconds(500))
        #expect(DurationParser.parse("5s") == .seconds(5))
        #expect(DurationParser.parse("2m") == .seconds(120))
        #expect(DurationParser.parse("1h") == .seconds(3600))
        #expect(DurationParser.parse("2.5") == .milliseconds(2500))
        #expect(DurationParser.parse("-1s") == nil)
        #expect(DurationParser.parse("soon") == nil)
    }

    @Test func cameraIDs() {
        #expect(Identifier.isValid("front-door_2", .camera))
        #expect(!Identifier.isValid("", .camera))
        #expect(!Identifier.isValid("../etc", .camera))
        #expect(!Identifier.isValid(String(repeating: "a", count: 65), .camera))
    }

    @Test func readsCaptureSettingsAndRejectsUnusableOnes() throws {
        let config = try ConfigLoader.parse(
            """
            cameras:
              booth:
                source: {kind: exec, command: [gphoto2, --capture-movie, --stdout]}
                capture: {command: [gphoto2, --capture-image-and-download, --filename, "{output}"], pause_live: true, timeout: 45s, queue: 2}
              door:
                source: {kind: push}
            """)
        let booth = config.cameras[0].capture
        #expect(booth.command == ["gphoto2", "--capture-image-and-download", "--filename", "{output}"])
        #expect(booth.pauseLive && booth.timeout == .seconds(45) && booth.queue == 2)
        let door = config.cameras[1].capture
        #expect(door.command == nil && !door.pauseLive && door.timeout == .seconds(30) && door.queue == 4)

        do {
            _ = try ConfigLoader.parse(
                """
                cameras:
                  a:
                    source: {kind: push}
                    capture: {command: [rpicam-still, -o, out.jpg]}
                  b:
                    source: {kind: push}
                    capture: {pause_live: maybe, queue: 0}
                  c:
                    source: {kind: push}
                    capture: {pause_live: true}
                """)
            Issue.record("bad capture settings must be refused")
        } catch let errors as ConfigErrors {
            #expect(
                errors.issues.map(\.path) == [
                    "cameras.a.capture.command", "cameras.b.capture.pause_live", "cameras.b.capture.queue",
                    "cameras.c.capture.pause_live",
                ])
            #expect(errors.issues.first?.message.contains("{output}") == true)
        }
    }

    @Test func readsMotionAndEventSettings() throws {
        let config = try ConfigLoader.parse(
            """
            events: {max_age_days: 14, max_bytes: 2GiB, hook_queue: 10}
            cameras:
              lobby:
                source: {kind: push}
                motion: {enabled: true, threshold: 1.5, noise_level: 32, pre_capture: 3s, post_capture: 5s, event_gap: 30s}
              porch:
                source: {kind: push}
                motion:
                  enabled: yes
                  analysis_fps: 2
                  minimum_motion_frames: 3
                  pre_capture_max_bytes: 8MB
                  mask: [{x: 0, y: 0, width: 30, height: 100}]
                  on_event_start: [./notify.sh, start]
                  on_event_end: {url: "https://example.com/hook", timeout: 5s, retries: 2}
              door:
                source: {kind: push}
            """)
        #expect(config.events.maxAgeDays == 14 && config.events.maxBytes == 2 << 30 && config.events.hookQueue == 10)
        let lobby = config.cameras[0].motion
        #expect(lobby.enabled && lobby.threshold == 1.5 && lobby.noiseLevel == 32)
        #expect(lobby.preCapture == .seconds(3) && lobby.postCapture == .seconds(5) && lobby.eventGap == .seconds(30))
        #expect(lobby.analysisFps == 5 && lobby.minimumMotionFrames == 1, "defaults")
        let porch = config.cameras[1].motion
        #expect(porch.analysisFps == 2 && porch.minimumMotionFrames == 3 && porch.preCaptureMaxBytes == 8_000_000)
        #expect(porch.masks == [MotionMask(x: 0, y: 0, width: 30, height: 100)])
        #expect(porch.onEventStart == .command(argv: ["./notify.sh", "start"], timeout: .seconds(30)))
        #expect(porch.onEventEnd == .webhook(url: "https://example.com/hook", timeout: .seconds(5), retries: 2))
        #expect(!config.cameras[2].motion.enabled, "off unless enabled")

        do {
            _ = try ConfigLoader.parse(
                """
                events: {max_bytes: lots}
                cameras:
                  a:
                    source: {kind: push}
                    motion: {threshold: 150, pre_capture: 2m, mask: [{x: 0, y: 0}], on_event_start: "ftp://x", sensitivity: 3}
                  b:
                    source: {kind: push}
                    motion: {post_capture: 10s, event_gap: 5s, on_event_end: {command: [a], url: "http://x"}}
                """)
            Issue.record("bad motion settings must be refused")
        } catch let errors as ConfigErrors {
            #expect(
                errors.issues.map(\.path) == [
                    "events.max_bytes", "cameras.a.motion.sensitivity", "cameras.a.motion.threshold",
                    "cameras.a.motion.pre_capture", "cameras.a.motion.mask[0]", "cameras.a.motion.on_event_start",
                    "cameras.b.motion.on_event_end", "cameras.b.motion.post_capture",
                ])
        }
    }

    @Test func readsSocketIOSources() throws {
        let config = try ConfigLoader.parse(
            """
            cameras:
              runner:
                source: {kind: socketio, url: "http://runner:5000", namespace: /stream, event: snap, auth: '{"token": "x"}', payload: data.image}
              plain:
                source: {kind: socketio, url: "https://runner"}
            """)
        var expected = SocketIOConfig(url: "http://runner:5000")
        expected.namespace = "/stream"
        expected.event = "snap"
        expected.auth = #"{"token": "x"}"#
        expected.payload = .base64(path: ["data", "image"])
        #expect(config.cameras[0].source == .socketIO(expected))
        #expect(config.cameras[1].source == .socketIO(SocketIOConfig(url: "https://runner")))

        let mistakes = [
            ("{kind: socketio}", "url: missing"),
            ("{kind: socketio, url: \"ws://runner\"}", "only http:// or https:// URLs"),
            ("{kind: socketio, url: \"http://r\", namespace: stream}", "a namespace starts with /"),
            ("{kind: socketio, url: \"http://r\", auth: '[1]'}", "expected a JSON object"),
            ("{kind: socketio, url: \"http://r\", payload: data..image}", "expected binary or a JSON path"),
        ]
        for (source, words) in mistakes {
            do {
                _ = try ConfigLoader.parse("cameras:\n  a:\n    source: \(source)\n")
                Issue.record("\(source) was accepted")
            } catch let errors as ConfigErrors {
                #expect(errors.description.contains(words), "\(source): \(errors)")
            }
        }
    }

    @Test func readsTheMQTTSection() throws {
        let config = try ConfigLoader.parse(
            """
            mqtt: {url: "mqtt://broker.lan:1884", username: vigil, password: s3cret, topic_prefix: home/vigil, client_id: porch-node, discovery: false, keepalive: 10s, max_queued: 50}
            """)
        var expected = MQTTConfig(host: "broker.lan")
        expected.port = 1884
        expected.username = "vigil"
        expected.password = "s3cret"
        expected.topicPrefix = "home/vigil"
        expected.clientID = "porch-node"
        expected.discovery = false
        expected.keepAlive = .seconds(10)
        expected.maxQueued = 50
        #expect(config.mqtt == expected)
        #expect(try ConfigLoader.parse("mqtt: {url: \"mqtt://[::1]\"}").mqtt?.port == 1883)

        let mistakes = [
            ("{username: x}", "url: missing"),
            ("{url: \"http://broker\"}", "is not mqtt://HOST[:PORT]"),
            ("{url: \"mqtt://broker:99999\"}", "is not mqtt://HOST[:PORT]"),
            ("{url: \"mqtt://b\", topic_prefix: \"a/#\"}", "without + or #"),
            ("{url: \"mqtt://b\", keepalive: 2h}", "at most 1h"),
            ("{url: \"mqtt://b\", qos: 2}", "unknown key"),
        ]
        for (section, words) in mistakes {
            do {
                _ = try ConfigLoader.parse("mqtt: \(section)\n")
                Issue.record("\(section) was accepted")
            } catch let errors as ConfigErrors {
                #expect(errors.description.contains(words), "\(section): \(errors)")
            }
        }
    }

    @Test func readsTheStoreAndClusterSections() throws {
        let config = try ConfigLoader.parse(
            """
            store: {kind: postgres, url: "postgres://vigil:p%40ss@db.lan:5433/cams?sslmode=require"}
            cluster: {node_id: node-a, advertise_url: "http://10.0.0.5:8080/", lease: 6s, token: 0123456789abcdef-shared}
            """)
        var address = PostgresAddress(host: "db.lan", port: 5433, username: "vigil", password: "p@ss", database: "cams")
        address.tls = .require
        #expect(config.store == .postgres(address))
        #expect(address.description == "postgres://vigil@db.lan:5433/cams", "no password in logs")
        var cluster = ClusterConfig(nodeID: "node-a", advertiseURL: "http://10.0.0.5:8080")
        cluster.lease = .seconds(6)
        cluster.token = "0123456789abcdef-shared"
        #expect(config.cluster == cluster)
        #expect(try ConfigLoader.parse("server: {port: 1}").store == .sqlite)
        #expect(try ConfigLoader.parse("store: {kind: sqlite}").cluster == nil)
        let edge = try ConfigLoader.parse("relay_of: \"http://origin.lan:8080/\"")
        #expect(edge.relayOf == "http://origin.lan:8080" && edge.cameras.isEmpty && edge.camerasRunElsewhere)

        let postgres = "store: {kind: postgres, url: \"postgres://v@db/cams\"}\n"
        let mistakes = [
            ("store: {kind: mysql}", "unknown store 'mysql'"),
            ("store: {kind: postgres}", "url: missing"),
            ("store: {kind: postgres, url: \"http://db/cams\"}", "is not a postgres:// URL"),
            ("store: {kind: postgres, url: \"postgres://db/cams\"}", "has no user"),
            ("store: {kind: postgres, url: \"postgres://v@db\"}", "names no database"),
            ("store: {kind: postgres, url: \"postgres://v@db/c?sslmode=maybe\"}", "sslmode must be"),
            ("store: {kind: sqlite, url: \"postgres://v@db/c\"}", "takes no url"),
            ("cluster: {node_id: a, advertise_url: \"http://a:8080\"}", "a cluster needs a shared store"),
            (postgres + "cluster: {advertise_url: \"http://a:8080\"}", "node_id: missing"),
            (postgres + "cluster: {node_id: a}", "advertise_url: missing"),
            (postgres + "cluster: {node_id: \"a b\", advertise_url: \"http://a\"}", "a node id is"),
            (postgres + "cluster: {node_id: a, advertise_url: \"ftp://a\"}", "only http:// or https://"),
            (postgres + "cluster: {node_id: a, advertise_url: \"http://a\", lease: 1s}", "cluster.lease"),
            ("relay_of: \"http://o:8080\"\ncameras:\n  a: {source: {kind: push}}", "has no cameras of its own"),
            ("relay_of: \"ftp://o\"", "only http:// or https://"),
            (postgres + "cluster: {node_id: a, advertise_url: \"http://a\", token: short}", "at least 16 characters"),
            (
                postgres + "relay_of: \"http://o\"\ncluster: {node_id: a, advertise_url: \"http://a\"}",
                "not a cluster node"
            ),
        ]
        for (text, words) in mistakes {
            do {
                _ = try ConfigLoader.parse(text + "\n")
                Issue.record("\(text) was accepted")
            } catch let errors as ConfigErrors {
                #expect(errors.description.contains(words), "\(text): \(errors)")
            }
        }
    }
}
