extension ConfigReader {
    static let motionSection = ConfigSection<MotionConfig>([
        ("enabled", { r, node, path, motion in if let flag = r.bool(node, path) { motion.enabled = flag } }),
        (
            "analysis_fps",
            { r, node, path, motion in if let v = r.double(node, path, range: 0.1...60) { motion.analysisFps = v } }
        ),
        (
            "threshold",
            { r, node, path, motion in if let v = r.double(node, path, range: 0...100) { motion.threshold = v } }
        ),
        (
            "noise_level",
            { r, node, path, motion in if let n = r.int(node, path, range: 1...255) { motion.noiseLevel = n } }
        ),
        (
            "minimum_motion_frames",
            { r, node, path, motion in
                if let n = r.int(node, path, range: 1...1000) { motion.minimumMotionFrames = n }
            }
        ),
        (
            "event_gap",
            { r, node, path, motion in if let d = r.duration(node, path, min: .zero) { motion.eventGap = d } }
        ),
        (
            "pre_capture",
            { r, node, path, motion in
                guard let d = r.duration(node, path, min: .zero) else { return }
                if d > .seconds(60) { r.fail(path, "must be at most 60s") } else { motion.preCapture = d }
            }
        ),
        (
            "post_capture",
            { r, node, path, motion in if let d = r.duration(node, path, min: .zero) { motion.postCapture = d } }
        ),
        (
            "pre_capture_max_bytes",
            { r, node, path, motion in
                if let n = r.bytes(node, path, range: 0...(1024 * 1024 * 1024)) { motion.preCaptureMaxBytes = Int(n) }
            }
        ),
        (
            "max_event_duration",
            { r, node, path, motion in
                if let d = r.duration(node, path, min: .seconds(1)) { motion.maxEventDuration = d }
            }
        ),
        (
            "write_queue_max_bytes",
            { r, node, path, motion in
                if let n = r.bytes(node, path, range: (1024 * 1024)...(1024 * 1024 * 1024)) {
                    motion.writeQueueMaxBytes = Int(n)
                }
            }
        ),
        ("mask", { r, node, path, motion in motion.masks = r.readMasks(node, path) }),
        ("on_event_start", { r, node, path, motion in motion.onEventStart = r.readHook(node, path) }),
        ("on_event_end", { r, node, path, motion in motion.onEventEnd = r.readHook(node, path) }),
    ])

    /// A camera's `motion:`.
    mutating func readMotion(_ node: YAMLNode, _ path: String) -> MotionConfig {
        var motion = MotionConfig()
        read(node, path, into: &motion, Self.motionSection)
        if motion.postCapture > motion.eventGap {
            fail(join(path, "post_capture"), "must not be longer than event_gap")
        }
        return motion
    }

    /// `mask: [{x: 0, y: 0, width: 30, height: 100}, ...]`, percent of the picture.
    mutating func readMasks(_ node: YAMLNode, _ path: String) -> [MotionMask] {
        guard case .sequence(let items) = node else {
            fail(path, "expected a list of rectangles like {x: 0, y: 0, width: 30, height: 100} (percent)")
            return []
        }
        var masks: [MotionMask] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            var values: [String: Double] = [:]
            for (key, value) in mapping(item, itemPath, allowed: ["x", "y", "width", "height"]) {
                if let v = double(value, join(itemPath, key), range: 0...100) { values[key] = v }
            }
            guard let x = values["x"], let y = values["y"], let w = values["width"], let h = values["height"] else {
                if case .mapping = item { fail(itemPath, "needs x, y, width and height (percent of the picture)") }
                continue
            }
            if w == 0 || h == 0 { fail(itemPath, "width and height must be more than 0") }
            masks.append(MotionMask(x: x, y: y, width: w, height: h))
        }
        return masks
    }

    /// A hook's mapping form, before it is known to be a command or a URL.
    struct HookDraft {
        var command: [String]?
        var url: String?
        var timeout: Duration?
        var retries = 3
    }

    static let hookSection = ConfigSection<HookDraft>([
        ("command", { r, node, path, hook in hook.command = r.argv(node, path, example: "[./notify.sh]") }),
        ("url", { r, node, path, hook in hook.url = r.url(node, path, schemes: ["http", "https"]) }),
        ("timeout", { r, node, path, hook in hook.timeout = r.duration(node, path, min: .milliseconds(100)) }),
        ("retries", { r, node, path, hook in if let n = r.int(node, path, range: 0...20) { hook.retries = n } }),
    ])

    /// A hook: `[program, args...]`, `"http(s)://..."`, or a mapping with
    /// `command` or `url` and `timeout` (and `retries` for a URL).
    mutating func readHook(_ node: YAMLNode, _ path: String) -> HookConfig? {
        let example = "[./notify.sh, --camera, porch] or \"https://example.com/hook\""
        switch node {
        case .sequence:
            return argv(node, path, example: example).map { .command(argv: $0, timeout: .seconds(30)) }
        case .scalar(let scalar):
            if let problem = Self.problemWithURL(scalar.string, schemes: ["http", "https"]) {
                fail(path, "\(problem); expected a command (a list) or a URL, e.g. \(example)")
                return nil
            }
            return .webhook(url: scalar.string, timeout: .seconds(10), retries: 3)
        case .mapping:
            var hook = HookDraft()
            read(node, path, into: &hook, Self.hookSection)
            switch (hook.command, hook.url) {
            case (let argv?, nil): return .command(argv: argv, timeout: hook.timeout ?? .seconds(30))
            case (nil, let url?):
                return .webhook(url: url, timeout: hook.timeout ?? .seconds(10), retries: hook.retries)
            case (.some, .some):
                fail(path, "give either command or url, not both")
                return nil
            case (nil, nil):
                fail(path, "needs a command or a url")
                return nil
            }
        }
    }
}
