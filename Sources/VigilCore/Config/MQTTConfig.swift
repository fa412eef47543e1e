/// `mqtt:`: where Vigil publishes its state and events and takes commands.
public struct MQTTConfig: Sendable, Equatable {
    /// `mqtt://host:port` (1883 when no port is given).
    public var host: String
    public var port: Int = 1883
    public var username: String?
    public var password: String?
    /// Every topic starts with it: `vigil/available`, `vigil/<camera>/state`, …
    public var topicPrefix = "vigil"
    public var clientID = "vigil"
    /// Home Assistant discovery messages under `discoveryPrefix`.
    public var discovery = true
    public var discoveryPrefix = "homeassistant"
    public var keepAlive: Duration = .seconds(30)
    /// QoS 1 messages kept while the broker is away.
    public var maxQueued = 1000

    public init(host: String) {
        self.host = host
    }
}
