#if PostgreSQL
    import Foundation
    import Logging
    import Testing
    import VigilAPI
    import VigilCore

    /// The PostgreSQL store against a real server: the same records as the
    /// SQLite store, migrations that several nodes may race to apply, each
    /// node's recovery reads seeing only its own rows, and a `vigil serve`
    /// that keeps its state there across a restart.
    @Suite(.serialized) struct PostgresStoreTests {
        static func open(_ url: String, node: String, dir: TempDir) async throws -> PostgresStore {
            guard case .postgres(let address) = try ConfigLoader.parse("store: {kind: postgres, url: \"\(url)\"}").store
            else { throw HTTPTestError(description: "not a postgres store") }
            return try await PostgresStore.open(
                address: address, node: node, directory: DataDirectory(dir.file("data-\(node)")),
                logger: .quietForTests, startupTimeout: .seconds(10))
        }

        @Test func recordsReadBackAsTheyWereWritten() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let postgres = try PostgresServer(dir: dir)
            let url = try postgres.createDatabase("records")
            let store = try await Self.open(url, node: "a", dir: dir)
            defer { store.close() }

            try await store.setDesired(.stopped, camera: "porch")
            try await store.setDesired(.running, camera: "garden")
            try await store.setDesired(.running, camera: "porch")
            #expect(try await store.desiredStates() == ["porch": .running, "garden": .running])

            var capture = CaptureRecord(id: "c1", camera: "porch", requestedAt: Date(timeIntervalSince1970: 100.25))
            try await store.saveCapture(capture)
            capture.status = .done
            capture.startedAt = 100.5
            capture.finishedAt = 101
            capture.bytes = 123_456
            capture.width = 1280
            capture.height = 720
            capture.file = "c1.jpg"
            try await store.saveCapture(capture)
            capture.node = "a"  // read back with the node that wrote it
            try await store.saveCapture(
                CaptureRecord(id: "c2", camera: "garden", requestedAt: Date(timeIntervalSince1970: 200)))
            #expect(try await store.capture(id: "c1") == capture)
            #expect(try await store.capture(id: "nope") == nil)
            #expect(try await store.captures(camera: nil, limit: 10).map(\.id) == ["c2", "c1"])
            #expect(try await store.captures(camera: "porch", limit: 10).map(\.id) == ["c1"])
            #expect(try await store.captures(camera: nil, limit: 1).map(\.id) == ["c2"])

            var session = SessionRecord(id: "s1", camera: nil, metadata: #"{"note":"it's \"quoted\""}"#)
            session.frames = 42
            session.bytes = 5_000_000_000
            session.attachments = ["a.txt", "b.json"]
            session.progressStage = "encode"
            session.progressPercent = 12.5
            try await store.saveSession(session)
            #expect(try await store.session(id: "s1") == session)
            #expect(try await store.sessions(limit: 5).map(\.id) == ["s1"])
            try await store.deleteSession(id: "s1")
            #expect(try await store.session(id: "s1") == nil)

            var event = MotionEventRecord(id: "e1", camera: "porch", startedAt: 10)
            event.peakPercent = 3.25
            event.frames = 30
            event.preFrames = 5
            event.bytes = 9_000_000_000
            event.noFreshFrame = true
            event.clip = "e1.mjpg"
            try await store.saveMotionEvent(event)
            event.node = "a"
            var later = MotionEventRecord(id: "e2", camera: "garden", startedAt: 20)
            later.status = .complete
            try await store.saveMotionEvent(later)
            #expect(try await store.motionEvent(id: "e1") == event)
            #expect(try await store.motionEvents(camera: nil, since: nil, limit: 10).map(\.id) == ["e2", "e1"])
            #expect(try await store.motionEvents(camera: "porch", since: nil, limit: 10).map(\.id) == ["e1"])
            #expect(try await store.motionEvents(camera: nil, since: 15, limit: 10).map(\.id) == ["e2"])
            #expect(try await store.motionEvents(camera: "porch", since: 15, limit: 10).isEmpty)
            #expect(try await store.motionEventBytesOfThisNode() == 9_000_000_000)
            #expect(try await store.motionEventFilesOfThisNode() == ["e1", "e1.mjpg", "e2"])
            #expect(try await store.finishedMotionEventsOfThisNodeOldestFirst(limit: 10).map(\.id) == ["e2"])
            try await store.deleteMotionEvent(id: "e2")
            #expect(try await store.motionEvent(id: "e2") == nil)
        }

        @Test func nodesStartingTogetherMigrateOnceAndRecoverOnlyTheirOwnRows() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let postgres = try PostgresServer(dir: dir)
            let url = try postgres.createDatabase("cluster")
            // Three nodes race to apply the migrations to an empty database.
            async let openA = Self.open(url, node: "a", dir: dir)
            async let openB = Self.open(url, node: "b", dir: dir)
            async let openC = Self.open(url, node: "c", dir: dir)
            let (a, b, c) = try await (openA, openB, openC)
            defer { [a, b, c].forEach { $0.close() } }
            #expect(
                try postgres.query("SELECT string_agg(version::text, ',') FROM vigil_schema", database: "cluster")
                    == "1")

            try await a.saveCapture(CaptureRecord(id: "ca", camera: "porch"))
            var running = CaptureRecord(id: "cb", camera: "garden")
            running.status = .running
            try await b.saveCapture(running)
            try await a.saveMotionEvent(MotionEventRecord(id: "ea", camera: "porch", startedAt: 1))
            try await b.saveMotionEvent(MotionEventRecord(id: "eb", camera: "garden", startedAt: 2))
            var receiving = SessionRecord(id: "sb", camera: nil, metadata: nil)
            receiving.state = .receiving
            try await b.saveSession(receiving)

            // Node a restarting recovers its own capture and event, not b's.
            #expect(try await a.failInterruptedCapturesOfThisNode(now: 5) == 1)
            #expect(try await b.capture(id: "cb")?.status == .running)
            #expect(try await a.motionEventsOfThisNode(in: .recording).map(\.id) == ["ea"])
            #expect(try await a.sessionsOfThisNode(in: .receiving, updatedBefore: .infinity).isEmpty)
            #expect(try await b.sessionsOfThisNode(in: .receiving, updatedBefore: .infinity).map(\.id) == ["sb"])
            #expect(try await a.motionEventFilesOfThisNode() == ["ea"])
            // The API's reads see every node's rows.
            #expect(try await c.captures(camera: nil, limit: 10).count == 2)
            #expect(try await c.motionEvents(camera: nil, since: nil, limit: 10).map(\.id) == ["eb", "ea"])
        }

        @Test func aServerKeepsItsStateInPostgresAcrossARestart() async throws {
            let dir = try TempDir()
            defer { dir.remove() }
            let postgres = try PostgresServer(dir: dir)
            let url = try postgres.createDatabase("serve")
            let config = """
                store: {kind: postgres, url: "\(url)"}
                cameras:
                  porch: {source: {kind: testpattern, fps: 10}}
                  garden: {source: {kind: testpattern, fps: 10}}
                """
            do {
                let server = try VigilProcess(config: config, dir: dir)
                defer { server.stop() }
                #expect(
                    try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/garden/stop").status == 200)
                try await waitUntil("porch is live") {
                    try HTTPTestClient.camera(port: server.port, "porch")["phase"] as? String == "live"
                }
                let capture = try HTTPTestClient.request(port: server.port, "POST", "/api/v1/cameras/porch/captures")
                #expect(capture.status == 202, "\(capture.text)")
                let id = try #require(try capture.json()["id"] as? String)
                try await waitUntil("the capture is done") {
                    try HTTPTestClient.request(port: server.port, "GET", "/api/v1/captures/\(id)").json()["status"]
                        as? String == "done"
                }
                #expect(
                    try postgres.query("SELECT node || ' ' || status FROM captures", database: "serve") == "local done")
            }
            #expect(
                try postgres.query("SELECT desired FROM camera_desired WHERE camera = 'garden'", database: "serve")
                    == "stopped")
            // A new data dir: the state comes from the database, not from a file.
            let again = try VigilProcess(config: config, dir: dir, dataDir: dir.file("other-data"))
            defer { again.stop() }
            #expect(try HTTPTestClient.camera(port: again.port, "garden")["desired"] as? String == "stopped")
            #expect(try HTTPTestClient.camera(port: again.port, "porch")["desired"] as? String == "running")
            let listed = try HTTPTestClient.request(port: again.port, "GET", "/api/v1/captures").jsonArray()
            #expect(listed.count == 1)
        }
    }
#endif
