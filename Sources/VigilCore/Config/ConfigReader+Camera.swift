import VigilAPI

extension ConfigReader {
    static let cameraSection = ConfigSection<CameraDraft>([
        ("source", { r, node, path, draft in draft.source = r.readSource(node, path) }),
        (
            "stale_after",
            { r, node, path, draft in
                if let d = r.duration(node, path, min: .milliseconds(100)) { draft.camera.staleAfter = d }
            }
        ),
        (
            "max_frame_age",
            { r, node, path, draft in if let d = r.duration(node, path) { draft.camera.maxFrameAge = d } }
        ),
        (
            "max_frame_bytes",
            { r, node, path, draft in
                if let n = r.bytes(node, path, range: 1024...(256 * 1024 * 1024)) {
                    draft.camera.maxFrameBytes = Int(n)
                }
            }
        ),
        ("restart", { r, node, path, draft in draft.camera.restart = r.readRestart(node, path) }),
        ("capture", { r, node, path, draft in draft.camera.capture = r.readCapture(node, path) }),
        ("motion", { r, node, path, draft in draft.camera.motion = r.readMotion(node, path) }),
        (
            "prefer",
            { r, node, path, draft in
                guard let id = r.string(node, path) else { return }
                if Identifier.isValid(id, .camera) { draft.camera.prefer = id } else { r.fail(path, "not a node id") }
            }
        ),
    ])

    /// A camera while it is read: its source comes apart (it may be missing).
    struct CameraDraft {
        var camera: CameraConfig
        var source: SourceConfig?
    }

    /// `cameras:`, in file order.
    mutating func readCameras(_ node: YAMLNode) -> [CameraConfig] {
        var cameras: [CameraConfig] = []
        let pairs = mapping(node, "cameras", allowed: nil)
        if pairs.isEmpty, issues.isEmpty { fail("cameras", "define at least one camera") }
        for (id, value) in pairs {
            let path = join("cameras", id)
            guard Identifier.isValid(id, .camera) else {
                fail(path, "camera id must be 1-64 letters, digits, '_' or '-'")
                continue
            }
            if let camera = readCamera(id: id, value, path) { cameras.append(camera) }
        }
        return cameras
    }

    mutating func readCamera(id: String, _ node: YAMLNode, _ path: String) -> CameraConfig? {
        var draft = CameraDraft(camera: CameraConfig(id: id, source: .testPattern(.init())))
        read(node, path, into: &draft, Self.cameraSection)
        if case .mapping(let entries) = node, !entries.contains(where: { $0.key == "source" }) {
            fail(join(path, "source"), "missing (every camera needs a source)")
        }
        guard let source = draft.source else { return nil }
        draft.camera.source = source
        return draft.camera
    }

    static let restartSection = ConfigSection<RestartPolicy>([
        (
            "initial_backoff",
            { r, node, path, policy in if let d = r.duration(node, path) { policy.initialBackoff = d } }
        ),
        ("max_backoff", { r, node, path, policy in if let d = r.duration(node, path) { policy.maxBackoff = d } }),
        ("stable_after", { r, node, path, policy in if let d = r.duration(node, path) { policy.stableAfter = d } }),
    ])

    mutating func readRestart(_ node: YAMLNode, _ path: String) -> RestartPolicy {
        var policy = RestartPolicy()
        read(node, path, into: &policy, Self.restartSection)
        if policy.maxBackoff < policy.initialBackoff {
            fail(join(path, "max_backoff"), "must not be smaller than initial_backoff")
        }
        return policy
    }

    static let captureSection = ConfigSection<CaptureConfig>([
        (
            "command",
            { r, node, path, capture in
                guard let argv = r.argv(node, path, example: "[rpicam-still, -o, \"{output}\"]") else { return }
                if argv.contains(where: { $0.firstRange(of: "{output}") != nil }) {
                    capture.command = argv
                } else {
                    r.fail(path, "must contain {output}, the file the image is to be written to")
                }
            }
        ),
        ("pause_live", { r, node, path, capture in if let flag = r.bool(node, path) { capture.pauseLive = flag } }),
        (
            "timeout",
            { r, node, path, capture in
                if let d = r.duration(node, path, min: .milliseconds(100)) { capture.timeout = d }
            }
        ),
        ("queue", { r, node, path, capture in if let n = r.int(node, path, range: 1...1000) { capture.queue = n } }),
    ])

    mutating func readCapture(_ node: YAMLNode, _ path: String) -> CaptureConfig {
        var capture = CaptureConfig()
        read(node, path, into: &capture, Self.captureSection)
        if capture.pauseLive, capture.command == nil {
            fail(join(path, "pause_live"), "needs a command (without one a capture stores a live frame)")
        }
        return capture
    }
}
