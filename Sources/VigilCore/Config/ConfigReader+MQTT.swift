extension ConfigReader {
    static let mqttSection = ConfigSection<MQTTConfig>([
        ("url", { _, _, _, _ in }),  // read first, by readMQTT
        ("username", { r, node, path, mqtt in mqtt.username = r.string(node, path) }),
        ("password", { r, node, path, mqtt in mqtt.password = r.string(node, path) }),
        (
            "topic_prefix",
            { r, node, path, mqtt in
                guard let prefix = r.string(node, path) else { return }
                if prefix.isEmpty || prefix.contains(where: { "+#".contains($0) }) || prefix.hasSuffix("/") {
                    r.fail(path, "a topic prefix must be non-empty, without + or #, and not end with /")
                } else {
                    mqtt.topicPrefix = prefix
                }
            }
        ),
        (
            "client_id",
            { r, node, path, mqtt in
                guard let id = r.string(node, path) else { return }
                if id.isEmpty || id.utf8.count > 64 {
                    r.fail(path, "a client id must be 1-64 bytes")
                } else {
                    mqtt.clientID = id
                }
            }
        ),
        ("discovery", { r, node, path, mqtt in if let on = r.bool(node, path) { mqtt.discovery = on } }),
        (
            "discovery_prefix",
            { r, node, path, mqtt in if let prefix = r.string(node, path) { mqtt.discoveryPrefix = prefix } }
        ),
        (
            "keepalive",
            { r, node, path, mqtt in
                if let d = r.duration(node, path, min: .seconds(1)) {
                    if d > .seconds(3600) { r.fail(path, "at most 1h") } else { mqtt.keepAlive = d }
                }
            }
        ),
        (
            "max_queued",
            { r, node, path, mqtt in if let n = r.int(node, path, range: 1...100_000) { mqtt.maxQueued = n } }
        ),
    ])

    /// `mqtt:`; nil (and an issue) without a usable `url`.
    mutating func readMQTT(_ node: YAMLNode, _ path: String) -> MQTTConfig? {
        guard case .mapping(let entries) = node else {
            fail(path, "expected a mapping of keys")
            return nil
        }
        guard let urlNode = entries.first(where: { $0.key == "url" })?.value,
            let url = string(urlNode, join(path, "url"))
        else {
            fail(join(path, "url"), "missing: the broker, e.g. mqtt://127.0.0.1:1883")
            return nil
        }
        guard let (host, port) = Self.brokerAddress(url) else {
            fail(join(path, "url"), "'\(url)' is not mqtt://HOST[:PORT]")
            return nil
        }
        var mqtt = MQTTConfig(host: host)
        mqtt.port = port
        read(node, path, into: &mqtt, Self.mqttSection)
        return mqtt
    }

    /// `mqtt://host[:port]` → host and port.
    static func brokerAddress(_ url: String) -> (String, Int)? {
        guard url.hasPrefix("mqtt://") else { return nil }
        var rest = Substring(url.dropFirst(7))
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@") else { return nil }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return (host, 1883) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else {
                return nil
            }
            return (host, port)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (String(parts[0]), 1883)
        case 2:
            guard !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            return (String(parts[0]), port)
        default: return nil
        }
    }
}
