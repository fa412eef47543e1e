import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Several real `vigil serve` nodes sharing one real PostgreSQL: the cameras
/// are `vigil fake-camera` children, each marked by its own `--pid-file`,
/// so where a camera runs is read from the process table, not from the API.
final class ClusterRig: @unchecked Sendable {
    let dir: TempDir
    let postgres: PostgresServer
    let url: String
    let cameras: [String]
    let lease: String
    let extraCameraConfig: String
    /// Cameras given in full (YAML under the camera's id) instead of a fake camera.
    let customCameras: [String: String]
    /// More keys of every node's config (an `auth:` section).
    let extraConfig: String
    /// `cluster.token`, when given.
    let token: String?
    private(set) var nodes: [String: VigilProcess] = [:]
    private(set) var ports: [String: Int] = [:]
    /// Nodes stopped with SIGSTOP: their children are frozen output, not running cameras.
    private let frozen = Mutex<Set<String>>([])

    init(
        cameras: [String], lease: String = "3s", extraCameraConfig: String = "", customCameras: [String: String] = [:],
        extraConfig: String = "", token: String? = nil
    ) throws {
        dir = try TempDir()
        postgres = try PostgresServer(dir: dir)
        url = try postgres.createDatabase("cluster")
        self.cameras = cameras
        self.lease = lease
        self.extraCameraConfig = extraCameraConfig
        self.customCameras = customCameras
        self.extraConfig = extraConfig
        self.token = token
    }

    func config(node: String, port: Int) -> String {
        var text = """
            store: {kind: postgres, url: "\(url)"}
            cluster: {node_id: \(node), advertise_url: "http://127.0.0.1:\(port)", lease: \(lease)\(token.map { ", token: \($0)" } ?? "")}
            \(extraConfig)
            cameras:

            """
        for camera in cameras {
            if let custom = customCameras[camera] {
                text += "  \(camera):\n" + custom.split(separator: "\n").map { "    \($0)\n" }.joined()
                continue
            }
            let fake = Binaries.fakeCameraCommand([
                "--fps", "10", "--size", "160x120", "--pid-file", dir.file("\(camera).pids"),
            ])
            text += """
                  \(camera):
                    source: {kind: exec, command: \(fake)}
                    stale_after: 2s
                \(extraCameraConfig)

                """
        }
        return text
    }

    /// Starts the nodes together (so they share the cameras from the start).
    func start(_ ids: [String]) throws {
        for id in ids where ports[id] == nil { ports[id] = try freePort() }
        let started = Mutex<[String: Result<VigilProcess, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: ids.count) { index in
            let id = ids[index]
            let port = ports[id]!
            let result = Result {
                try VigilProcess(
                    config: config(node: id, port: port), dir: dir, dataDir: dir.file("data-\(id)"), port: port)
            }
            started.withLock { $0[id] = result }
        }
        for (id, result) in started.withLock({ $0 }) { nodes[id] = try result.get() }
    }

    func node(_ id: String) -> VigilProcess { nodes[id]! }
    func port(_ id: String) -> Int { ports[id]! }

    /// SIGSTOP: the node's sockets stay open but it does nothing. Its
    /// children keep existing (their output goes nowhere); they are not
    /// counted as running cameras until the node has run again.
    func freeze(_ id: String) {
        frozen.withLock { _ = $0.insert(id) }
        kill(node(id).pid, SIGSTOP)
    }

    /// SIGCONT; waits until every camera child the node had while frozen is
    /// gone and answers how long that took.
    func thaw(_ id: String, timeout: TimeInterval = 10) throws -> TimeInterval {
        let pid = node(id).pid
        let old = Set(ProcFS.children(of: pid).filter { Self.camera(ofChild: $0) != nil })
        let start = Date()
        kill(pid, SIGCONT)
        while !Set(ProcFS.children(of: pid)).isDisjoint(with: old) {
            guard Date().timeIntervalSince(start) < timeout else {
                throw TimeoutError(description: "node \(id) still runs its cameras \(timeout) s after SIGCONT")
            }
            usleep(10_000)
        }
        frozen.withLock { _ = $0.remove(id) }
        return Date().timeIntervalSince(start)
    }

    func crash(_ id: String) {
        let process = node(id).process
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Camera → the nodes whose children run it now (frozen nodes left out).
    func placement(includingFrozen: Bool = false) -> [String: [String]] {
        let skipped = includingFrozen ? [] : frozen.withLock { $0 }
        var placement: [String: [String]] = [:]
        for (id, node) in nodes where node.process.isRunning && !skipped.contains(id) {
            for child in ProcFS.children(of: node.pid) {
                guard let camera = Self.camera(ofChild: child) else { continue }
                placement[camera, default: []].append(id)
            }
        }
        return placement
    }

    /// The camera a fake camera serves, from its `--pid-file` argument.
    static func camera(ofChild pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let flag = argv.firstIndex(of: "--pid-file"), flag + 1 < argv.count else { return nil }
        return ((argv[flag + 1] as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Every camera on exactly one node.
    func everyCameraRunsOnce() -> Bool {
        let placement = placement()
        return cameras.allSatisfy { placement[$0]?.count == 1 }
    }

    func stopAll() {
        for id in frozen.withLock({ $0 }) { kill(node(id).pid, SIGCONT) }
        for node in nodes.values { node.stop() }
    }

    deinit {
        stopAll()
        postgres.stop()
        dir.remove()
    }
}

/// Samples where the cameras run until stopped, and remembers any moment
/// a camera ran on two nodes at once.
final class DoubleRunWatch: Sendable {
    private let task: Task<[String], Never>

    init(_ rig: ClusterRig) {
        task = Task.detached {
            var doubles: [String] = []
            while !Task.isCancelled {
                for (camera, nodes) in rig.placement() where nodes.count > 1 {
                    doubles.append("\(camera) on \(nodes.sorted())")
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return doubles
        }
    }

    /// Stops sampling; the double runs seen.
    func finish() async -> [String] {
        task.cancel()
        return await task.value
    }
}
