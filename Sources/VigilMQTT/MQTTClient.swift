import Logging
import NIOCore
import NIOPosix
import Synchronization
import VigilAPI

/// Where and how `MQTTClient` connects.
public struct MQTTConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var clientID: String
    public var username: String?
    public var password: String?
    /// PINGREQ every half of it; a broker silent for all of it is a zombie.
    public var keepAlive: Duration = .seconds(30)
    /// Published by the broker when this client is gone without a DISCONNECT.
    public var will: MQTTPacket.Publish?
    /// QoS 1 messages kept while the broker is away (retained ones are kept
    /// apart, one per topic); beyond it the oldest are dropped and counted.
    public var maxQueued = 1000
    /// Messages sent and not yet acknowledged.
    public var maxInFlight = 32
    /// Time for the TCP connection and for the CONNACK.
    public var connectTimeout: Duration = .seconds(10)
    public var backoff = Backoff(initial: .milliseconds(250), max: .seconds(30))
    /// Largest packet accepted from the broker.
    public var maxIncomingBytes = 256 * 1024

    public init(host: String, port: Int, clientID: String) {
        self.host = host
        self.port = port
        self.clientID = clientID
    }
}

/// A message the broker delivered on a subscription.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: ByteBuffer
}

/// How the connection is doing, for the API and the log.
public struct MQTTStatus: Sendable, Equatable {
    public var connected = false
    /// Why the last connection ended or failed; nil before any trouble.
    public var lastError: String?
    /// Connections made (CONNACK accepted) since the start.
    public var connections = 0
    /// QoS 1 messages waiting for the broker.
    public var queued = 0
    /// Messages dropped because the queue was full.
    public var dropped = 0
}

/// A small MQTT 3.1.1 client on SwiftNIO: QoS 0 and 1, retained messages,
/// a last will, subscriptions, keepalive.
///
/// `run()` keeps a connection for as long as it runs. Every attempt is a
/// brand-new TCP connection and MQTT session (clean session): nothing of a
/// broken connection is reused. A broker that stops answering (no PINGRESP,
/// no packet at all for `keepAlive`) is left for a new connection, the
/// zombie lesson applied to brokers. After each CONNACK the client sends its
/// subscriptions, the newest retained message of every topic, the QoS 1
/// messages not yet acknowledged (again, marked DUP) and the queue.
public final class MQTTClient: Sendable {
    public let configuration: MQTTConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let incoming: AsyncStream<MQTTMessage>.Continuation
    /// Messages on the subscriptions (newest 256 kept for a slow reader).
    public let messages: AsyncStream<MQTTMessage>

    private struct State {
        var status = MQTTStatus()
        var subscriptions: [String] = []
        /// The newest retained message of each topic, and which are not yet
        /// sent on the current connection.
        var retained: [String: MQTTPacket.Publish] = [:]
        var retainedUnsent: [String] = []
        var queue: [MQTTPacket.Publish] = []
        var inFlight: [UInt16: MQTTPacket.Publish] = [:]
        var nextPacketID: UInt16 = 0
        /// Wakes the current connection's sender.
        var wake: AsyncStream<Void>.Continuation?
        var stopping: MQTTPacket.Publish??
    }

    public init(configuration: MQTTConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (messages, incoming) = AsyncStream<MQTTMessage>.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    public var status: MQTTStatus { state.withLock { $0.status } }

    /// Topic filters subscribed on every connection (QoS 1).
    public func subscribe(_ filters: [String]) {
        state.withLock { $0.subscriptions += filters }
    }

    /// Queues a message; never blocks. A retained message replaces the one
    /// waiting for its topic and is sent again after every reconnect.
    public func publish(topic: String, payload: ByteBuffer, qos: UInt8 = 1, retain: Bool = false) {
        let message = MQTTPacket.Publish(topic: topic, payload: payload, qos: min(qos, 1), retain: retain)
        let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
            if retain {
                if state.retained.updateValue(message, forKey: topic) == nil || !state.retainedUnsent.contains(topic) {
                    state.retainedUnsent.append(topic)
                }
            } else {
                if state.queue.count >= configuration.maxQueued {
                    state.queue.removeFirst()
                    state.status.dropped += 1
                }
                state.queue.append(message)
            }
            state.status.queued = state.queue.count + state.inFlight.count
            return state.wake
        }
        wake?.yield()
    }

    /// Ends `run()`: `lastWords` (an `offline` availability, say) is sent,
    /// then DISCONNECT, so the broker does not publish the will.
    public func stop(lastWords: MQTTPacket.Publish?) {
        let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
            state.stopping = .some(lastWords)
            return state.wake
        }
        wake?.yield()
    }

    /// Connects and reconnects until cancelled or stopped.
    public func run() async {
        var backoff = configuration.backoff
        while !Task.isCancelled, state.withLock({ $0.stopping == nil }) {
            let connectionsBefore = status.connections
            let reason: String
            do {
                try await connectOnce()
                reason = "the connection ended"
            } catch {
                reason = "\(error)"
            }
            let stopped = state.withLock { state -> Bool in
                state.status.connected = false
                state.wake = nil
                // Unacknowledged messages go out again first, marked DUP.
                let again = state.inFlight.sorted { $0.key < $1.key }.map { entry -> MQTTPacket.Publish in
                    var message = entry.value
                    message.duplicate = true
                    message.packetID = nil
                    return message
                }
                state.inFlight = [:]
                state.queue.insert(contentsOf: again.filter { !$0.retain }, at: 0)
                state.retainedUnsent = Array(state.retained.keys.sorted())
                if state.stopping == nil { state.status.lastError = reason }
                return state.stopping != nil
            }
            if stopped || Task.isCancelled { return }
            if status.connections > connectionsBefore { backoff.reset() }
            let delay = backoff.next()
            logger.warning(
                "mqtt \(configuration.host):\(configuration.port): \(reason); connecting again in \(delay)")
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    // MARK: - One connection

    private func connectOnce() async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(configuration.connectTimeout.milliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let session = Session()
        try await channel.executeThenClose { inbound, outbound in
            var connect = MQTTPacket.Connect(
                clientID: configuration.clientID,
                keepAliveSeconds: UInt16(clamping: configuration.keepAlive.components.seconds))
            connect.will = configuration.will
            connect.username = configuration.username
            connect.password = configuration.password
            try await outbound.write(Self.encode(.connect(connect)))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.read(inbound, outbound: outbound, session: session) }
                group.addTask { try await self.send(outbound, session: session) }
                group.addTask { try await self.watch(outbound, session: session) }
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// What one connection knows about itself.
    private final class Session: Sendable {
        private struct State {
            var lastHeard = ContinuousClock.now
            var accepted = false
        }
        private let state = Mutex(State())
        let started = ContinuousClock.now
        var lastHeard: ContinuousClock.Instant { state.withLock { $0.lastHeard } }
        var accepted: Bool { state.withLock { $0.accepted } }
        func heard() { state.withLock { $0.lastHeard = .now } }
        func accept() { state.withLock { $0.accepted = true } }
    }

    private func read(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        session: Session
    ) async throws {
        var pending = ByteBuffer()
        for try await chunk in inbound {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            // The broker's first word is a CONNACK; anything else is not MQTT.
            if !session.accepted, let first = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
                first >> 4 != 2
            {
                throw MQTTProtocolError("the first bytes are not a CONNACK (\(Self.excerpt(pending)))")
            }
            while let packet = try MQTTPacket.read(from: &pending, maxLength: configuration.maxIncomingBytes) {
                session.heard()
                try await handle(packet, outbound: outbound, session: session)
            }
            pending.discardReadBytes()
        }
        if pending.readableBytes > 0 {
            throw MQTTProtocolError("the connection ended inside a packet (\(Self.excerpt(pending)))")
        }
        throw MQTTRefused(
            description: session.accepted
                ? "the broker closed the connection" : "the broker closed the connection before its CONNACK")
    }

    /// The first bytes of `buffer`, printable, for an error message.
    private static func excerpt(_ buffer: ByteBuffer) -> String {
        let bytes = buffer.readableBytesView.prefix(24)
        return "\"" + String(bytes.map { (32..<127).contains($0) ? Character(UnicodeScalar($0)) : "." }) + "\""
    }

    private func handle(
        _ packet: MQTTPacket, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: Session
    ) async throws {
        switch packet {
        case .connack(_, let code):
            guard !session.accepted else { throw MQTTProtocolError("a second CONNACK") }
            guard code == 0 else {
                throw MQTTRefused(
                    description: "the broker refused the connection: \(MQTTPacket.describeConnackCode(code))")
            }
            session.accept()
            let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
                state.status.connected = true
                state.status.connections += 1
                return state.wake
            }
            logger.notice("mqtt: connected to \(configuration.host):\(configuration.port)")
            wake?.yield()
        case .puback(let id):
            let wake = state.withLock { state -> AsyncStream<Void>.Continuation? in
                state.inFlight[id] = nil
                state.status.queued = state.queue.count + state.inFlight.count
                return state.wake
            }
            wake?.yield()
        case .publish(let message):
            guard session.accepted else { throw MQTTProtocolError("a PUBLISH before the CONNACK") }
            if message.qos == 1, let id = message.packetID {
                try await outbound.write(Self.encode(.puback(packetID: id)))
            }
            incoming.yield(MQTTMessage(topic: message.topic, payload: message.payload))
        case .suback(_, let codes):
            if codes.contains(0x80) { logger.error("mqtt: the broker refused a subscription (codes \(codes))") }
        case .pingresp:
            break
        case .connect, .subscribe, .pingreq, .disconnect:
            throw MQTTProtocolError("a client's packet from the broker")
        }
    }

    /// Sends, once the broker accepted the connection: the subscriptions,
    /// the retained messages, then the queue, with a bounded window of
    /// unacknowledged messages.
    private func send(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: Session) async throws {
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.wake = wake }
        // The CONNACK may have come already: look once without being woken.
        wake.yield()
        var subscribed = false
        for await _ in wakeups {
            guard session.accepted else { continue }
            if !subscribed {
                subscribed = true
                let filters = state.withLock { $0.subscriptions }
                if !filters.isEmpty {
                    try await outbound.write(
                        Self.encode(.subscribe(packetID: nextPacketID(), topics: filters.map { ($0, 1) })))
                }
            }
            while let message = takeNext() {
                try await outbound.write(Self.encode(.publish(message)))
            }
            if let lastWords = state.withLock({ $0.stopping }) {
                if var message = lastWords {
                    message.qos = 0
                    try await outbound.write(Self.encode(.publish(message)))
                }
                try await outbound.write(Self.encode(.disconnect))
                return
            }
        }
    }

    /// The next message to send, registered as in flight; nil when there is
    /// none or the window is full.
    private func takeNext() -> MQTTPacket.Publish? {
        state.withLock { state in
            guard state.inFlight.count < configuration.maxInFlight else { return nil }
            var message: MQTTPacket.Publish
            if !state.retainedUnsent.isEmpty {
                let topic = state.retainedUnsent.removeFirst()
                guard let retained = state.retained[topic] else { return nil }
                message = retained
            } else if !state.queue.isEmpty {
                message = state.queue.removeFirst()
            } else {
                return nil
            }
            if message.qos == 1 {
                message.packetID = Self.allocateID(&state)
                state.inFlight[message.packetID!] = message
            }
            state.status.queued = state.queue.count + state.inFlight.count
            return message
        }
    }

    private func nextPacketID() -> UInt16 {
        state.withLock { Self.allocateID(&$0) }
    }

    private static func allocateID(_ state: inout State) -> UInt16 {
        repeat {
            state.nextPacketID = state.nextPacketID == UInt16.max ? 1 : state.nextPacketID + 1
        } while state.inFlight[state.nextPacketID] != nil
        return state.nextPacketID
    }

    /// CONNACK within the connect timeout, then a PINGREQ every half
    /// keepalive (the broker's own limit is one and a half); nothing heard
    /// for a whole keepalive ends the connection.
    private func watch(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, session: Session) async throws {
        let keepAlive = configuration.keepAlive
        var lastPing = ContinuousClock.now
        while true {
            try await Task.sleep(for: min(keepAlive / 4, .seconds(1)))
            let now = ContinuousClock.now
            if !session.accepted {
                if now - session.started > configuration.connectTimeout {
                    throw MQTTRefused(description: "no CONNACK from the broker within \(configuration.connectTimeout)")
                }
                continue
            }
            if now - session.lastHeard > keepAlive {
                throw MQTTRefused(description: "nothing from the broker for \(keepAlive) (no PINGRESP): a zombie")
            }
            if now - lastPing >= keepAlive / 2 {
                lastPing = now
                try await outbound.write(Self.encode(.pingreq))
            }
        }
    }

    private static func encode(_ packet: MQTTPacket) -> ByteBuffer {
        var buffer = ByteBuffer()
        packet.encode(into: &buffer)
        return buffer
    }
}

/// Why a connection was given up (refused, silent); the text is the status.
struct MQTTRefused: Error, CustomStringConvertible {
    let description: String
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
