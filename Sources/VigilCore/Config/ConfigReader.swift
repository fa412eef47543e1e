#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads a parsed config file into `VigilConfig`, collecting every mistake
/// (`issues`) instead of stopping at the first. The sections are in
/// `ConfigReader+Section.swift` files, one table of keys each.
struct ConfigReader {
    var issues: [ConfigIssue] = []

    mutating func fail(_ path: String, _ message: String) {
        issues.append(ConfigIssue(path: path, message: message))
    }

    func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    mutating func readConfig(_ root: YAMLNode?) -> VigilConfig {
        guard let root else { return VigilConfig.demo }
        var config = VigilConfig(cameras: [])
        var sawCameras = false
        let sections = ConfigSection<VigilConfig>([
            ("server", { reader, node, path, config in config.server = reader.readServer(node, path) }),
            ("cameras", { reader, node, _, config in config.cameras = reader.readCameras(node) }),
            ("ingest", { reader, node, path, config in config.ingest = reader.readIngest(node, path) }),
            ("events", { reader, node, path, config in config.events = reader.readMotionEvents(node, path) }),
            ("auth", { reader, node, path, config in config.auth = reader.readAuth(node, path) }),
            ("mqtt", { reader, node, path, config in config.mqtt = reader.readMQTT(node, path) }),
            ("store", { reader, node, path, config in config.store = reader.readStore(node, path) }),
            ("cluster", { reader, node, path, config in config.cluster = reader.readCluster(node, path) }),
            (
                "relay_of",
                { reader, node, path, config in
                    guard var url = reader.url(node, path, schemes: ["http", "https"]) else { return }
                    while url.hasSuffix("/") { url.removeLast() }
                    config.relayOf = url
                }
            ),
        ])
        read(root, "", into: &config, sections)
        if config.cluster != nil, config.store == .sqlite {
            fail("cluster", "a cluster needs a shared store: store: {kind: postgres, url: postgres://…}")
        }
        if case .mapping(let entries) = root { sawCameras = entries.contains { $0.key == "cameras" } }
        if config.relayOf != nil {
            if sawCameras { fail("cameras", "an edge relay (relay_of) has no cameras of its own") }
            if config.cluster != nil { fail("relay_of", "an edge relay is not a cluster node; remove cluster:") }
        } else if !sawCameras {
            config.cameras = VigilConfig.demo.cameras
        }
        return config
    }

    // MARK: - Values

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

    /// A string that must not be empty.
    mutating func nonEmptyString(_ node: YAMLNode, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if text.isEmpty { fail(path, "must not be empty") }
        return text.isEmpty ? nil : text
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

    /// A URL with one of `schemes` and a host; nil (reported) otherwise.
    mutating func url(_ node: YAMLNode, _ path: String, schemes: [String]) -> String? {
        guard let text = string(node, path) else { return nil }
        if let problem = Self.problemWithURL(text, schemes: schemes) {
            fail(path, problem)
            return nil
        }
        return text
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
}
