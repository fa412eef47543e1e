import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One mistake in a config file: where it is and what is wrong.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path, e.g. `cameras.porch.stale_after`.
    public var path: String
    public var message: String

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// All the mistakes found in a config file.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads `vigil.yml`. Unknown keys are errors; every mistake is reported at once.
public enum ConfigLoader {
    public static func load(path: String) throws -> VigilConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            // The errno text (localizedDescription needs swift-corelibs-foundation and ICU).
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            let reason = fd < 0 ? String(cString: strerror(errno)) : "not UTF-8 text (\(error))"
            if fd >= 0 { close(fd) }
            throw ConfigErrors(issues: [
                ConfigIssue(path: "", message: "cannot read \(path): \(reason)")
            ])
        }
        return try parse(text)
    }

    public static func parse(_ text: String) throws -> VigilConfig {
        let root: YAMLNode?
        do {
            root = try YAMLReader.parse(text)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(path: "", message: "not valid YAML: \(error)")])
        }
        var reader = Reader()
        let config = reader.readConfig(root)
        if !reader.issues.isEmpty { throw ConfigErrors(issues: reader.issues) }
        return config
    }

    private struct Reader {
        var issues: [ConfigIssue] = []

        mutating func fail(_ path: String, _ message: String) {
            issues.append(ConfigIssue(path: path, message: message))
        }

        /// The mapping at `path` as ordered (key, value) pairs, reporting unknown keys.
        mutating func mapping(_ node: YAMLNode?, _ path: String, allowed: [String]?) -> [(String, YAMLNode)] {
            guard let node else { return [] }
            guard case .mapping(let entries) = node else {
                fail(path, "expected a mapping of keys")
                return []
            }
            var pairs: [(String, YAMLNode)] = []
            for entry in entries {
                let (key, value) = (entry.key, entry.value)
                if let allowed, !allowed.contains(key) {
                    fail(join(path, key), "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
                    continue
                }
                pairs.append((key, value))
            }
            return pairs
        }

        mutating func string(_ node: YAMLNode, _ path: String) -> String? {
            guard case .scalar(let scalar) = node else {
                fail(path, "expected a string")
                return nil
            }
            return scalar.string
        }

        mutating func bool(_ node: YAMLNode, _ path: String) -> Bool? {
            guard case .scalar(let scalar) = node else {
                fail(path, "expected true or false")
                return nil
            }
            switch scalar.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default:
                fail(path, "expected true or false")
                return nil
            }
        }

        mutating func int(_ node: YAMLNode, _ path: String, range: ClosedRange<Int>) -> Int? {
            guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
                fail(path, "expected a whole number")
                return nil
            }
            guard range.contains(value) else {
                fail(path, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
                return nil
            }
            return value
        }

        mutating func double(_ node: YAMLNode, _ path: String, range: ClosedRange<Double>) -> Double? {
            guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
                fail(path, "expected a number")
                return nil
            }
            guard range.contains(value) else {
                fail(path, "\(scalar.string) is out of range \(range.lowerBound)...\(range.upperBound)")
                return nil
            }
            return value
        }

        mutating func duration(_ node: YAMLNode, _ path: String, min: Duration = .milliseconds(1)) -> Duration? {
            guard case .scalar(let scalar) = node, let value = DurationParser.parse(scalar.string) else {
                fail(path, "expected a duration like \"500ms\", \"5s\", \"2m\" or a number of seconds")
                return nil
            }
            guard value >= min else {
                fail(path, "must be at least \(min)")
                return nil
            }
            return value
        }

        mutating func readConfig(_ root: YAMLNode?) -> VigilConfig {
            var config = VigilConfig(cameras: [])
            guard let root else { return VigilConfig.demo }
            var sawCameras = false
            for (key, value) in mapping(root, "", allowed: ["server", "cameras", "ingest", "events"]) {
                switch key {
                case "server": config.server = readServer(value)
                case "events": config.events = readEvents(value)
                case "ingest": config.ingest = readIngest(value)
                case "cameras":
                    sawCameras = true
                    config.cameras = readCameras(value)
                default: break
                }
            }
            if !sawCameras { config.cameras = VigilConfig.demo.cameras }
            return config
        }

        /// A command line: a non-empty list of strings naming a program.
        mutating func argv(_ node: YAMLNode, _ path: String, example: String) -> [String]? {
            guard case .sequence(let items) = node else {
                fail(path, "expected a list of arguments, e.g. \(example)")
                return nil
            }
            var argv: [String] = []
            for (index, item) in items.enumerated() {
                if let s = string(item, "\(path)[\(index)]") { argv.append(s) }
            }
            guard let program = argv.first, !program.isEmpty else {
                fail(path, "must name a program")
                return nil
            }
            return argv
        }

        mutating func readIngest(_ node: YAMLNode) -> IngestConfig {
            var ingest = IngestConfig()
            let keys = [
                "max_frame_bytes", "max_session_bytes", "max_sessions", "max_attachment_bytes", "ack_every",
                "idle_timeout", "resume_window", "process_command", "process_timeout",
            ]
            for (key, value) in mapping(node, "ingest", allowed: keys) {
                let path = join("ingest", key)
                switch key {
                case "max_frame_bytes":
                    if let n = bytes(value, path, range: 1024...(64 * 1024 * 1024)) { ingest.maxFrameBytes = Int(n) }
                case "max_session_bytes":
                    if let n = bytes(value, path, range: 1024...(Int64.max / 2)) { ingest.maxSessionBytes = n }
                case "max_sessions": if let n = int(value, path, range: 1...10_000) { ingest.maxSessions = n }
                case "max_attachment_bytes":
                    if let n = bytes(value, path, range: 1...(256 * 1024 * 1024)) { ingest.maxAttachmentBytes = Int(n) }
                case "ack_every": if let n = int(value, path, range: 1...100_000) { ingest.ackEvery = n }
                case "idle_timeout":
                    if let d = duration(value, path, min: .milliseconds(100)) { ingest.idleTimeout = d }
                case "resume_window": if let d = duration(value, path) { ingest.resumeWindow = d }
                case "process_timeout":
                    if let d = duration(value, path, min: .milliseconds(100)) { ingest.processTimeout = d }
                case "process_command":
                    if let argv = argv(value, path, example: "[./process.sh, \"{session_dir}\"]") {
                        ingest.processCommand = argv
                    }
                default: break
                }
            }
            return ingest
        }

        mutating func readServer(_ node: YAMLNode) -> ServerConfig {
            var server = ServerConfig()
            let keys = ["host", "port", "data_dir", "max_clients_per_camera", "idle_timeout"]
            for (key, value) in mapping(node, "server", allowed: keys) {
                let path = join("server", key)
                switch key {
                case "host":
                    if let host = string(value, path) {
                        if host.isEmpty { fail(path, "must not be empty") } else { server.host = host }
                    }
                case "port": if let port = int(value, path, range: 0...65535) { server.port = port }
                case "data_dir":
                    if let dir = string(value, path) {
                        if dir.isEmpty { fail(path, "must not be empty") } else { server.dataDir = dir }
                    }
                case "max_clients_per_camera":
                    if let n = int(value, path, range: 1...100_000) { server.maxClientsPerCamera = n }
                case "idle_timeout":
                    if let d = duration(value, path, min: .milliseconds(100)) { server.idleTimeout = d }
                default: break
                }
            }
            return server
        }

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
            let keys = ["source", "stale_after", "max_frame_age", "max_frame_bytes", "restart", "capture", "motion"]
            var camera = CameraConfig(id: id, source: .testPattern(.init()))
            var source: SourceConfig?
            var sawSource = false
            for (key, value) in mapping(node, path, allowed: keys) {
                let keyPath = join(path, key)
                switch key {
                case "source":
                    sawSource = true
                    source = readSource(value, keyPath)
                case "stale_after":
                    if let d = duration(value, keyPath, min: .milliseconds(100)) { camera.staleAfter = d }
                case "max_frame_age": if let d = duration(value, keyPath) { camera.maxFrameAge = d }
                case "max_frame_bytes":
                    if let n = bytes(value, keyPath, range: 1024...(256 * 1024 * 1024)) {
                        camera.maxFrameBytes = Int(n)
                    }
                case "restart": camera.restart = readRestart(value, keyPath)
                case "capture": camera.capture = readCapture(value, keyPath)
                case "motion": camera.motion = readMotion(value, keyPath)
                default: break
                }
            }
            if !sawSource { fail(join(path, "source"), "missing (every camera needs a source)") }
            guard let source else { return nil }
            camera.source = source
            return camera
        }

        mutating func readCapture(_ node: YAMLNode, _ path: String) -> CaptureConfig {
            var capture = CaptureConfig()
            for (key, value) in mapping(node, path, allowed: ["command", "pause_live", "timeout", "queue"]) {
                let keyPath = join(path, key)
                switch key {
                case "command":
                    guard let argv = argv(value, keyPath, example: "[rpicam-still, -o, \"{output}\"]") else { continue }
                    if argv.contains(where: { $0.firstRange(of: "{output}") != nil }) {
                        capture.command = argv
                    } else {
                        fail(keyPath, "must contain {output}, the file the image is to be written to")
                    }
                case "pause_live":
                    if let flag = bool(value, keyPath) { capture.pauseLive = flag }
                case "timeout":
                    if let d = duration(value, keyPath, min: .milliseconds(100)) { capture.timeout = d }
                case "queue":
                    if let n = int(value, keyPath, range: 1...1000) { capture.queue = n }
                default: break
                }
            }
            if capture.pauseLive, capture.command == nil {
                fail(join(path, "pause_live"), "needs a command (without one a capture stores a live frame)")
            }
            return capture
        }

        /// A size in bytes: a whole number, or with a unit (`512KB`, `64MiB`, `10GB`).
        mutating func bytes(_ node: YAMLNode, _ path: String, range: ClosedRange<Int64>) -> Int64? {
            guard case .scalar(let scalar) = node, let value = ByteSize.parse(scalar.string) else {
                fail(path, "expected a size like 1048576, \"512KB\", \"64MiB\" or \"10GB\"")
                return nil
            }
            guard range.contains(value) else {
                fail(path, "\(scalar.string) is out of range \(range.lowerBound)...\(range.upperBound) bytes")
                return nil
            }
            return value
        }

        mutating func readEvents(_ node: YAMLNode) -> EventsConfig {
            var events = EventsConfig()
            for (key, value) in mapping(node, "events", allowed: ["max_age_days", "max_bytes", "hook_queue"]) {
                let path = join("events", key)
                switch key {
                case "max_age_days": if let v = double(value, path, range: 0...36_500) { events.maxAgeDays = v }
                case "max_bytes":
                    if let n = bytes(value, path, range: (1024 * 1024)...(Int64.max / 2)) { events.maxBytes = n }
                case "hook_queue": if let n = int(value, path, range: 1...10_000) { events.hookQueue = n }
                default: break
                }
            }
            return events
        }

        mutating func readMotion(_ node: YAMLNode, _ path: String) -> MotionConfig {
            var motion = MotionConfig()
            let keys = [
                "enabled", "analysis_fps", "threshold", "noise_level", "minimum_motion_frames", "event_gap",
                "pre_capture", "post_capture", "pre_capture_max_bytes", "max_event_duration", "write_queue_max_bytes",
                "mask", "on_event_start", "on_event_end",
            ]
            for (key, value) in mapping(node, path, allowed: keys) {
                let keyPath = join(path, key)
                switch key {
                case "enabled": if let flag = bool(value, keyPath) { motion.enabled = flag }
                case "analysis_fps": if let v = double(value, keyPath, range: 0.1...60) { motion.analysisFps = v }
                case "threshold": if let v = double(value, keyPath, range: 0...100) { motion.threshold = v }
                case "noise_level": if let n = int(value, keyPath, range: 1...255) { motion.noiseLevel = n }
                case "minimum_motion_frames":
                    if let n = int(value, keyPath, range: 1...1000) { motion.minimumMotionFrames = n }
                case "event_gap": if let d = duration(value, keyPath, min: .zero) { motion.eventGap = d }
                case "pre_capture":
                    if let d = duration(value, keyPath, min: .zero) {
                        if d > .seconds(60) { fail(keyPath, "must be at most 60s") } else { motion.preCapture = d }
                    }
                case "post_capture": if let d = duration(value, keyPath, min: .zero) { motion.postCapture = d }
                case "pre_capture_max_bytes":
                    if let n = bytes(value, keyPath, range: 0...(1024 * 1024 * 1024)) {
                        motion.preCaptureMaxBytes = Int(n)
                    }
                case "write_queue_max_bytes":
                    if let n = bytes(value, keyPath, range: (1024 * 1024)...(1024 * 1024 * 1024)) {
                        motion.writeQueueMaxBytes = Int(n)
                    }
                case "max_event_duration":
                    if let d = duration(value, keyPath, min: .seconds(1)) { motion.maxEventDuration = d }
                case "mask": motion.masks = readMasks(value, keyPath)
                case "on_event_start": motion.onEventStart = readHook(value, keyPath)
                case "on_event_end": motion.onEventEnd = readHook(value, keyPath)
                default: break
                }
            }
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
                var command: [String]?
                var url: String?
                var timeout: Duration?
                var retries = 3
                for (key, value) in mapping(node, path, allowed: ["command", "url", "timeout", "retries"]) {
                    let keyPath = join(path, key)
                    switch key {
                    case "command": command = argv(value, keyPath, example: "[./notify.sh]")
                    case "url":
                        if let text = string(value, keyPath) {
                            if let problem = Self.problemWithURL(text, schemes: ["http", "https"]) {
                                fail(keyPath, problem)
                            } else {
                                url = text
                            }
                        }
                    case "timeout": timeout = duration(value, keyPath, min: .milliseconds(100))
                    case "retries": if let n = int(value, keyPath, range: 0...20) { retries = n }
                    default: break
                    }
                }
                switch (command, url) {
                case (let argv?, nil): return .command(argv: argv, timeout: timeout ?? .seconds(30))
                case (nil, let url?): return .webhook(url: url, timeout: timeout ?? .seconds(10), retries: retries)
                case (.some, .some):
                    fail(path, "give either command or url, not both")
                    return nil
                case (nil, nil):
                    fail(path, "needs a command or a url")
                    return nil
                }
            }
        }

        mutating func readRestart(_ node: YAMLNode, _ path: String) -> RestartPolicy {
            var policy = RestartPolicy()
            for (key, value) in mapping(node, path, allowed: ["initial_backoff", "max_backoff", "stable_after"]) {
                let keyPath = join(path, key)
                guard let d = duration(value, keyPath) else { continue }
                switch key {
                case "initial_backoff": policy.initialBackoff = d
                case "max_backoff": policy.maxBackoff = d
                case "stable_after": policy.stableAfter = d
                default: break
                }
            }
            if policy.maxBackoff < policy.initialBackoff {
                fail(join(path, "max_backoff"), "must not be smaller than initial_backoff")
            }
            return policy
        }

        mutating func readSource(_ node: YAMLNode, _ path: String) -> SourceConfig? {
            guard case .mapping = node else {
                fail(path, "expected a mapping with a `kind`")
                return nil
            }
            let pairs = mapping(node, path, allowed: nil)
            guard let kindNode = pairs.first(where: { $0.0 == "kind" })?.1 else {
                fail(join(path, "kind"), "missing (one of: \(SourceConfig.kinds.joined(separator: ", ")))")
                return nil
            }
            let kind = string(kindNode, join(path, "kind")) ?? ""
            switch kind {
            case "testpattern":
                var config = TestPatternConfig()
                for (key, value) in pairs where key != "kind" {
                    let keyPath = join(path, key)
                    switch key {
                    case "width": if let v = int(value, keyPath, range: 16...7680) { config.width = v }
                    case "height": if let v = int(value, keyPath, range: 16...4320) { config.height = v }
                    case "fps": if let v = double(value, keyPath, range: 0.1...120) { config.fps = v }
                    case "quality": if let v = int(value, keyPath, range: 1...100) { config.quality = v }
                    default: fail(keyPath, "unknown key (expected one of: kind, width, height, fps, quality)")
                    }
                }
                return .testPattern(config)
            case "exec":
                var command: [String]?
                var grace: Duration = .seconds(2)
                for (key, value) in pairs where key != "kind" {
                    let keyPath = join(path, key)
                    switch key {
                    case "command":
                        command = argv(value, keyPath, example: "[rpicam-vid, -o, \"-\"]")
                    case "stop_grace": if let d = duration(value, keyPath) { grace = d }
                    default: fail(keyPath, "unknown key (expected one of: kind, command, stop_grace)")
                    }
                }
                guard let command else {
                    if !pairs.contains(where: { $0.0 == "command" }) {
                        fail(join(path, "command"), "missing (the program writing MJPEG to stdout)")
                    }
                    return nil
                }
                var config = ExecConfig(command: command)
                config.stopGrace = grace
                return .exec(config)
            case "websocket":
                var url: String?
                for (key, value) in pairs where key != "kind" {
                    let keyPath = join(path, key)
                    switch key {
                    case "url":
                        guard let text = string(value, keyPath) else { continue }
                        if let problem = Self.problemWithURL(text, schemes: ["ws", "wss"]) {
                            fail(keyPath, problem)
                        } else {
                            url = text
                        }
                    default: fail(keyPath, "unknown key (expected one of: kind, url)")
                    }
                }
                guard let url else {
                    if !pairs.contains(where: { $0.0 == "url" }) {
                        fail(join(path, "url"), "missing (the ws:// URL)")
                    }
                    return nil
                }
                return .websocket(WebSocketSourceConfig(url: url))
            case "push":
                for (key, _) in pairs where key != "kind" {
                    fail(join(path, key), "unknown key (a push source has only `kind`)")
                }
                return .push
            case "mjpeg":
                var url: String?
                var config = MJPEGConfig(url: "")
                for (key, value) in pairs where key != "kind" {
                    let keyPath = join(path, key)
                    switch key {
                    case "url":
                        guard let text = string(value, keyPath) else { continue }
                        if let problem = Self.problemWithHTTPURL(text) {
                            fail(keyPath, problem)
                        } else {
                            url = text
                        }
                    case "username": config.username = string(value, keyPath)
                    case "password": config.password = string(value, keyPath)
                    case "connect_timeout":
                        if let d = duration(value, keyPath, min: .milliseconds(10)) { config.connectTimeout = d }
                    default:
                        fail(
                            keyPath,
                            "unknown key (expected one of: kind, url, username, password, connect_timeout)")
                    }
                }
                guard let url else {
                    if !pairs.contains(where: { $0.0 == "url" }) {
                        fail(join(path, "url"), "missing (the stream's http:// URL)")
                    }
                    return nil
                }
                config.url = url
                return .mjpeg(config)
            default:
                if !kind.isEmpty {
                    fail(
                        join(path, "kind"),
                        "unknown source kind '\(kind)' (one of: \(SourceConfig.kinds.joined(separator: ", ")))")
                }
                return nil
            }
        }

        static func problemWithHTTPURL(_ text: String) -> String? {
            problemWithURL(text, schemes: ["http"])
        }

        static func problemWithURL(_ text: String, schemes: [String]) -> String? {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else {
                return "not a URL: \(text)"
            }
            guard schemes.contains(scheme) else {
                let allowed = schemes.map { "\($0)://" }.joined(separator: " or ")
                return "only \(allowed) URLs are supported (got \(scheme)://)"
            }
            guard let host = url.host, !host.isEmpty else { return "the URL has no host" }
            return nil
        }

        func join(_ path: String, _ key: String) -> String {
            path.isEmpty ? key : "\(path).\(key)"
        }
    }
}
