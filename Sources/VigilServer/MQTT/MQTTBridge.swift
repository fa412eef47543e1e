import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import VigilAPI
import VigilCore
import VigilMQTT

/// Vigil on MQTT: availability, camera states and events out; commands in.
///
/// Topics (`vigil` is `topic_prefix`):
/// - `vigil/available`: `online`, retained; `offline` as the last will (and
///   on a clean shutdown);
/// - `vigil/<camera>/state`: the camera's state JSON, retained, on change;
///   `vigil/<camera>/running` `ON`/`OFF` and `vigil/<camera>/motion`
///   `ON`/`OFF`, retained (for Home Assistant's switch and sensor);
/// - `vigil/events`: `{"type":"start"|"end","camera","event"}`;
/// - `vigil/<camera>/snapshot`: the JPEG at a motion start, retained;
/// - `vigil/<camera>/capture`: a finished capture's record;
/// - `vigil/<camera>/set`: `start`, `stop` or `capture`, answered on
///   `vigil/<camera>/result`. Commands act with the role of the Vigil user or
///   token named like `mqtt.username` (any role when the server runs open);
///   below `operator` they are refused.
/// With `discovery`, Home Assistant finds each camera as a camera entity, a
/// motion binary sensor, a running switch and a capture button.
struct MQTTBridge: Service {
    let config: MQTTConfig
    let registry: CameraRegistry
    /// The role commands act with; nil: no commands.
    let commandRole: Role?
    let client: MQTTClient
    let logger: Logger

    init(config: MQTTConfig, registry: CameraRegistry, commandRole: Role?, logger: Logger) {
        self.config = config
        self.registry = registry
        self.commandRole = commandRole
        self.logger = logger
        var settings = MQTTConfiguration(host: config.host, port: config.port, clientID: config.clientID)
        settings.username = config.username
        settings.password = config.password
        settings.keepAlive = config.keepAlive
        settings.maxQueued = config.maxQueued
        settings.will = MQTTPacket.Publish(
            topic: config.topicPrefix + "/available", payload: ByteBuffer(string: "offline"), qos: 1, retain: true)
        client = MQTTClient(configuration: settings, logger: logger)
    }

    var status: BrokerStatus {
        let status = client.status
        return BrokerStatus(
            broker: "mqtt://\(config.host):\(config.port)", connected: status.connected, lastError: status.lastError,
            connections: status.connections, queued: status.queued, dropped: status.dropped)
    }

    func run() async throws {
        let prefix = config.topicPrefix
        client.subscribe([prefix + "/+/set"])
        client.publish(topic: prefix + "/available", payload: ByteBuffer(string: "online"), retain: true)
        if config.discovery { publishDiscovery() }
        let relay = FeedRelay(bridge: self)
        guard registry.feed.subscribe(relay, prime: { snapshot in snapshot.cameras.forEach(relay.publishState) }) else {
            return
        }
        defer { registry.feed.unsubscribe(relay) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask {
                for await message in client.messages { await obey(message) }
            }
            try? await gracefulShutdown()
            client.stop(
                lastWords: MQTTPacket.Publish(
                    topic: prefix + "/available", payload: ByteBuffer(string: "offline"), qos: 1, retain: true))
            // The client ends after its DISCONNECT; a broker that is away
            // does not hold the shutdown up for more than two seconds.
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            _ = await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Commands

    private func obey(_ message: MQTTMessage) async {
        let parts = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts.last == "set" else { return }
        let id = String(parts[parts.count - 2])
        let text = String(
            buffer: message.payload.getSlice(
                at: message.payload.readerIndex, length: min(64, message.payload.readableBytes)) ?? ByteBuffer())
        let command = text.split(whereSeparator: \.isWhitespace).first.map { $0.lowercased() } ?? ""
        let result = await perform(command, camera: id)
        if result.ok {
            logger.notice("mqtt: \(command) \(id)")
        } else {
            logger.warning("mqtt: refused '\(command)' for \(id): \(result.error ?? "")")
        }
        if registry.camera(id) != nil {
            client.publish(
                topic: "\(config.topicPrefix)/\(id)/result", payload: ByteBuffer(string: WireJSON.text(result)))
        }
    }

    private func perform(_ command: String, camera id: String) async -> CommandResult {
        guard Identifier.isValid(id, .camera), let camera = registry.camera(id) else {
            return CommandResult(command: command, ok: false, error: "no camera named '\(id.prefix(64))'")
        }
        guard let role = commandRole, role >= .operator else {
            let who = config.username.map { "the MQTT user '\($0)'" } ?? "an MQTT connection without a user name"
            let has = commandRole.map { "has the \($0.rawValue) role" } ?? "is not a Vigil user"
            return CommandResult(command: command, ok: false, error: "\(who) \(has); commands need operator")
        }
        do {
            switch command {
            case "start": _ = try await camera.start()
            case "stop": _ = try await camera.stop()
            case "capture": _ = try await camera.requestCapture()
            default:
                return CommandResult(
                    command: command, ok: false, error: "unknown command; this topic takes start, stop or capture")
            }
            return CommandResult(command: command, ok: true)
        } catch {
            return CommandResult(command: command, ok: false, error: "\(error)")
        }
    }

    // MARK: - Home Assistant discovery

    private func publishDiscovery() {
        let node = String(config.clientID.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        let prefix = config.topicPrefix
        for camera in registry.cameras {
            let id = camera.id
            let device: JSONValue = .object([
                "identifiers": .array([.string("\(node)_\(id)")]), "name": .string(id),
                "manufacturer": .string("Vigil"), "model": .string(camera.config.source.kind),
            ])
            func entity(_ component: String, _ object: String, _ fields: [String: JSONValue]) {
                var body = fields
                body["unique_id"] = .string("\(node)_\(object)")
                body["availability_topic"] = .string(prefix + "/available")
                body["device"] = device
                client.publish(
                    topic: "\(config.discoveryPrefix)/\(component)/\(node)/\(object)/config",
                    payload: ByteBuffer(string: WireJSON.text(JSONValue.object(body))), retain: true)
            }
            entity("camera", id, ["name": .string(id), "topic": .string("\(prefix)/\(id)/snapshot")])
            entity(
                "binary_sensor", "\(id)_motion",
                [
                    "name": .string("\(id) motion"), "device_class": .string("motion"),
                    "state_topic": .string("\(prefix)/\(id)/motion"),
                    "payload_on": .string("ON"), "payload_off": .string("OFF"),
                ])
            entity(
                "switch", "\(id)_running",
                [
                    "name": .string("\(id) running"), "command_topic": .string("\(prefix)/\(id)/set"),
                    "payload_on": .string("start"), "payload_off": .string("stop"),
                    "state_topic": .string("\(prefix)/\(id)/running"),
                    "state_on": .string("ON"), "state_off": .string("OFF"),
                ])
            entity(
                "button", "\(id)_capture",
                [
                    "name": .string("\(id) capture"), "command_topic": .string("\(prefix)/\(id)/set"),
                    "payload_press": .string("capture"),
                ])
        }
    }

    // MARK: - Out

    /// Turns change-feed messages into MQTT messages; called with the
    /// feed's lock held, so it only queues (`MQTTClient.publish` never blocks).
    final class FeedRelay: FeedSubscriber, Sendable {
        let bridge: MQTTBridge
        /// The `running` value last published per camera: it changes far
        /// less often than the state (fps and viewers update it every second).
        private let running = Mutex<[String: Bool]>([:])

        init(bridge: MQTTBridge) {
            self.bridge = bridge
        }

        func publishState(_ state: CameraState) {
            // In a cluster each camera's topics come from the node running it.
            guard state.owner == nil || state.owner == bridge.registry.node else { return }
            let prefix = "\(bridge.config.topicPrefix)/\(state.id)"
            bridge.client.publish(
                topic: prefix + "/state", payload: ByteBuffer(string: WireJSON.text(state)), retain: true)
            let isRunning = state.desired == .running
            guard running.withLock({ $0.updateValue(isRunning, forKey: state.id) }) != isRunning else { return }
            bridge.client.publish(
                topic: prefix + "/running", payload: ByteBuffer(string: isRunning ? "ON" : "OFF"), retain: true)
        }

        func deliver(_ event: FeedMessage) {
            // Events relayed from another node are that node's to publish.
            guard event.origin == nil else { return }
            let client = bridge.client
            let prefix = bridge.config.topicPrefix
            switch event.message {
            case .state(_, let state):
                publishState(state)
            case .motion(let change):
                let started = change.kind == .started
                let notice = MotionNotice(type: started ? .start : .end, camera: change.camera, event: change.record)
                client.publish(topic: prefix + "/events", payload: ByteBuffer(string: WireJSON.text(notice)))
                client.publish(
                    topic: "\(prefix)/\(change.camera)/motion", payload: ByteBuffer(string: started ? "ON" : "OFF"),
                    retain: true)
                if started, let frame = bridge.registry.camera(change.camera)?.hub.latest {
                    client.publish(topic: "\(prefix)/\(change.camera)/snapshot", payload: frame.jpeg, retain: true)
                }
            case .capture(let change) where change.kind != .started:
                client.publish(
                    topic: "\(prefix)/\(change.camera)/capture",
                    payload: ByteBuffer(string: WireJSON.text(change.record)))
            default:
                break
            }
        }

        func finishFeed() {}
    }
}
