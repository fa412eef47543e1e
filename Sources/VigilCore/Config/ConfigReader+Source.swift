import VigilAPI

extension ConfigReader {
    /// `kind` is read before the table of its kind; it is a key of every table.
    private static let kindField: (key: String, read: ConfigSection<SourceDraft>.Read) = ("kind", { _, _, _, _ in })

    /// A source while it is read: what its kind's table fills in.
    struct SourceDraft {
        var testPattern = TestPatternConfig()
        var command: [String]?
        var stopGrace: Duration = .seconds(2)
        var url: String?
        var mjpeg = MJPEGConfig(url: "")
        var socketIO = SocketIOConfig(url: "")
    }

    static let sourceSections: [String: ConfigSection<SourceDraft>] = [
        "testpattern": ConfigSection([
            kindField,
            (
                "width",
                { r, node, path, d in if let v = r.int(node, path, range: 16...7680) { d.testPattern.width = v } }
            ),
            (
                "height",
                { r, node, path, d in if let v = r.int(node, path, range: 16...4320) { d.testPattern.height = v } }
            ),
            (
                "fps",
                { r, node, path, d in if let v = r.double(node, path, range: 0.1...120) { d.testPattern.fps = v } }
            ),
            (
                "quality",
                { r, node, path, d in if let v = r.int(node, path, range: 1...100) { d.testPattern.quality = v } }
            ),
        ]),
        "exec": ConfigSection([
            kindField,
            ("command", { r, node, path, d in d.command = r.argv(node, path, example: "[rpicam-vid, -o, \"-\"]") }),
            ("stop_grace", { r, node, path, d in if let v = r.duration(node, path) { d.stopGrace = v } }),
        ]),
        "websocket": ConfigSection([
            kindField,
            ("url", { r, node, path, d in d.url = r.url(node, path, schemes: ["ws", "wss"]) }),
        ]),
        "push": ConfigSection([kindField]),
        "socketio": ConfigSection([
            kindField,
            ("url", { r, node, path, d in d.url = r.url(node, path, schemes: ["http", "https"]) }),
            (
                "namespace",
                { r, node, path, d in
                    guard let text = r.string(node, path) else { return }
                    if text.hasPrefix("/"), text.utf8.count <= 128, !text.contains(",") {
                        d.socketIO.namespace = text
                    } else {
                        r.fail(path, "a namespace starts with / (at most 128 characters, no comma)")
                    }
                }
            ),
            (
                "event",
                { r, node, path, d in
                    guard let text = r.nonEmptyString(node, path) else { return }
                    if text.utf8.count <= 128 {
                        d.socketIO.event = text
                    } else {
                        r.fail(path, "at most 128 characters")
                    }
                }
            ),
            (
                "auth",
                { r, node, path, d in
                    guard let text = r.string(node, path) else { return }
                    if case .object? = try? WireJSON.decode(JSONValue.self, from: text) {
                        d.socketIO.auth = text
                    } else {
                        r.fail(path, "expected a JSON object as a string, e.g. '{\"token\": \"…\"}'")
                    }
                }
            ),
            (
                "payload",
                { r, node, path, d in
                    guard let text = r.nonEmptyString(node, path) else { return }
                    if text == "binary" {
                        d.socketIO.payload = .binary
                    } else {
                        let keys = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                        if keys.allSatisfy({ !$0.isEmpty }) {
                            d.socketIO.payload = .base64(path: keys)
                        } else {
                            r.fail(path, "expected binary or a JSON path such as data.image")
                        }
                    }
                }
            ),
        ]),
        "mjpeg": ConfigSection([
            kindField,
            ("url", { r, node, path, d in d.url = r.url(node, path, schemes: ["http"]) }),
            ("username", { r, node, path, d in d.mjpeg.username = r.string(node, path) }),
            ("password", { r, node, path, d in d.mjpeg.password = r.string(node, path) }),
            (
                "connect_timeout",
                { r, node, path, d in
                    if let v = r.duration(node, path, min: .milliseconds(10)) { d.mjpeg.connectTimeout = v }
                }
            ),
        ]),
    ]

    /// A camera's `source:`, whose keys depend on its `kind`.
    mutating func readSource(_ node: YAMLNode, _ path: String) -> SourceConfig? {
        guard case .mapping(let entries) = node else {
            fail(path, "expected a mapping with a `kind`")
            return nil
        }
        guard let kindNode = entries.first(where: { $0.key == "kind" })?.value else {
            fail(join(path, "kind"), "missing (one of: \(SourceConfig.kinds.joined(separator: ", ")))")
            return nil
        }
        let kind = string(kindNode, join(path, "kind")) ?? ""
        guard let section = Self.sourceSections[kind] else {
            if !kind.isEmpty {
                fail(
                    join(path, "kind"),
                    "unknown source kind '\(kind)' (one of: \(SourceConfig.kinds.joined(separator: ", ")))")
            }
            return nil
        }
        var draft = SourceDraft()
        read(node, path, into: &draft, section)
        let given = Set(entries.map(\.key))
        /// A required key: reported missing only when absent (a wrong value was reported already).
        func required<T>(_ value: T?, _ key: String, _ what: String) -> T? {
            if value == nil, !given.contains(key) { fail(join(path, key), "missing (\(what))") }
            return value
        }
        switch kind {
        case "testpattern":
            return .testPattern(draft.testPattern)
        case "exec":
            guard let command = required(draft.command, "command", "the program writing MJPEG to stdout") else {
                return nil
            }
            var config = ExecConfig(command: command)
            config.stopGrace = draft.stopGrace
            return .exec(config)
        case "websocket":
            return required(draft.url, "url", "the ws:// URL").map { .websocket(WebSocketSourceConfig(url: $0)) }
        case "socketio":
            guard let url = required(draft.url, "url", "the Socket.IO server's http:// URL") else { return nil }
            var config = draft.socketIO
            config.url = url
            return .socketIO(config)
        case "mjpeg":
            guard let url = required(draft.url, "url", "the stream's http:// URL") else { return nil }
            var config = draft.mjpeg
            config.url = url
            return .mjpeg(config)
        default:
            return .push
        }
    }
}
