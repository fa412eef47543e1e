import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Prometheus
import ServiceLifecycle
import VigilCore
import VigilSources

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The Vigil server: cameras, the HTTP API, the MJPEG streams.
///
/// Shutdown order matters: the cameras stop first (sources torn down,
/// children reaped, every stream ended), then the HTTP server, so no open
/// stream holds up the exit.
public struct VigilServer: Sendable {
    public let config: VigilConfig
    public let logger: Logger

    public init(config: VigilConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs until SIGINT/SIGTERM (or until the task is cancelled).
    /// `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // An edge relay's cameras are its origin's.
        let edge = self.config.relayOf.map { EdgeOrigin(relayOf: $0, logger: logger) }
        var withCameras = self.config
        if let edge { withCameras.cameras = try await edge.cameras() }
        let config = withCameras
        let store = try await openRecordStore(config, logger: logger)
        defer { store.close() }
        let registry = await CameraRegistry(config: config, store: store, logger: logger)
        let ingest = try await IngestSessions(
            config: config.ingest, store: store, feed: registry.feed, logger: logger
        ) { [logger] argv, timeout, onLine in
            await ProcessCommand.run(argv, timeout: timeout, logger: logger, onLine: onLine)
        }
        let setup = try AccessSetup.resolve(config, logger: logger)
        // Cameras that may run on another node are relayed from it.
        let relays =
            config.camerasRunElsewhere
            ? CameraRelays(
                cameras: registry.cameras, directory: RelayDirectory(), token: edge?.token ?? config.cluster?.token,
                logger: logger) : nil
        let host = config.server.host
        let tls = try config.server.tls.map(Self.tlsContext)
        let progress = StartupProgress()
        let metrics = MetricsExporter(registry: PrometheusCollectorRegistry(), cameras: registry)
        _ = registry.feed.subscribe(metrics)
        let mqtt = config.mqtt.map { given in
            var mqtt = given
            // Two clients with one id throw each other off the broker.
            if let node = config.cluster?.nodeID, mqtt.clientID == MQTTConfig(host: "").clientID {
                mqtt.clientID += "-" + node
            }
            return MQTTBridge(
                config: mqtt, registry: registry, commandRole: setup.access.role(ofName: mqtt.username), logger: logger)
        }
        let application = makeApplication(
            registry: registry, ingest: ingest, access: setup.access, metrics: metrics, mqtt: mqtt, relays: relays,
            edge: edge, tls: tls
        ) {
            [logger] port in
            progress.listening(on: port)
            if let token = setup.newAdminToken {
                // Printed once, when the token is made; it stays in the data dir.
                logger.notice(
                    "open \(tls == nil ? "http" : "https")://\(host.contains(":") ? "[\(host)]" : host):\(port)/?token=\(token) (admin token, kept in \(DataDirectory(config.server.dataDir).adminToken))"
                )
            }
            await onListening(port)
        }
        let cameras = CamerasService(registry: registry, ingest: ingest, progress: progress, logger: logger)
        let systemd = SystemdService(
            notifier: SystemdNotifier(), progress: progress, registry: registry, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: application),
            .init(service: cameras),
            // Ends at once when not under systemd: that ends nothing else.
            .init(service: systemd, successTerminationBehavior: .ignore),
        ]
        if let mqtt { services.append(.init(service: mqtt, successTerminationBehavior: .ignore)) }
        if let edge, let relays {
            relays.directory.relayEverything(registry.cameras.map(\.id), from: edge.url)
            services.append(.init(service: relays))
            services.append(.init(service: EdgeMirror(origin: edge, registry: registry)))
        }
        #if PostgreSQL
            if let cluster = config.cluster, let store = store as? PostgresStore, let relays {
                services.append(.init(service: relays))
                services.append(
                    .init(
                        service: ClusterBridge(
                            store: store, registry: registry, directory: relays.directory, node: cluster.nodeID,
                            logger: logger)))
                // Last in the list, so first to shut down: its cameras stop and
                // their leases are given up while the store is still there.
                services.append(
                    .init(
                        service: LeaseKeeper(
                            store: store, registry: registry, directory: relays.directory, cluster: cluster,
                            logger: logger)))
            }
        #endif
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
        logger.info("stopped")
    }

    /// The server's TLS from `server.tls`; an unreadable file stops the start with its name.
    static func tlsContext(_ files: TLSFiles) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.cert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: files.key, format: .pem)
            return try NIOSSLContext(
                configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        } catch {
            throw TLSSetupError(description: "server.tls: cannot use \(files.cert) and \(files.key): \(error)")
        }
    }

    /// Every HTTP route (the WebSocket paths answer plain requests with an error).
    func makeRouter(
        registry: CameraRegistry, ingest: IngestSessions, access: AccessControl, metrics: MetricsExporter? = nil,
        mqtt: MQTTBridge? = nil, relays: CameraRelays? = nil, edge: EdgeOrigin? = nil
    ) -> Router<VigilRequestContext> {
        let router = Router(context: VigilRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: RequestTargetLimit())
        router.add(middleware: AccessMiddleware(access: access))
        if let edge { router.add(middleware: EdgeForwarding(origin: edge.url)) }
        AuthRoutes(access: access).register(on: router)
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: "ok")))
        }
        ReadinessRoute(registry: registry).register(on: router)
        if let metrics { MetricsRoute(exporter: metrics).register(on: router) }
        MQTTStatusRoute(bridge: mqtt).register(on: router)
        WebPage.register(on: router)
        CameraRoutes(registry: registry, relays: relays, maxClientsPerCamera: config.server.maxClientsPerCamera)
            .register(on: router)
        CaptureRoutes(registry: registry, relays: relays).register(on: router)
        SessionRoutes(store: ingest.store).register(on: router)
        MotionEventRoutes(registry: registry).register(on: router)
        // The WebSocket paths answer plain HTTP requests with a clear error
        // (a plain GET of /api/v1/events lists the recorded motion events).
        for path: RouterPath in ["/cameras/{id}/live", "/api/v1/live", "/api/v1/ingest"] {
            router.get(path) { _, _ -> Response in
                throw APIError(
                    .upgradeRequired, "websocket_required",
                    "this is a WebSocket endpoint; connect with a WebSocket client")
            }
        }
        return router
    }

    func makeApplication(
        registry: CameraRegistry, ingest: IngestSessions, access: AccessControl, metrics: MetricsExporter,
        mqtt: MQTTBridge?, relays: CameraRelays?, edge: EdgeOrigin?, tls: NIOSSLContext?,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = makeRouter(
            registry: registry, ingest: ingest, access: access, metrics: metrics, mqtt: mqtt, relays: relays,
            edge: edge)
        var socketRouter = SocketRouter()
        socketRouter.access = access
        // MJPEG streams and live sockets share the fan-outs: one hub
        // subscription per camera and event loop for all of them.
        let fanouts = ViewerFanouts()
        LiveSockets(
            registry: registry, fanouts: fanouts, maxClientsPerCamera: config.server.maxClientsPerCamera,
            logger: logger
        ).register(on: &socketRouter)
        IngestSockets(service: ingest, registry: registry, logger: logger).register(on: &socketRouter)

        let environment = MJPEGStreamHandler.Environment(
            hub: { registry.camera($0)?.hub },
            maxFrameAge: { registry.camera($0)?.config.maxFrameAge ?? .seconds(2) },
            maxClientsPerCamera: config.server.maxClientsPerCamera,
            fanouts: fanouts,
            access: access,
            logger: logger
        )
        let idleTimeout = TimeAmount.milliseconds(Int64(config.server.idleTimeout.seconds * 1000))
        let sockets = socketRouter
        let connections = ConnectionsPerAddress(limit: config.server.maxConnectionsPerAddress, logger: logger)
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(
                additionalChannelHandlers: [MJPEGStreamHandler(environment: environment)],
                idleTimeout: idleTimeout,
                // Request heads are small: one header at most 8 KiB, all at most
                // 16 KiB, at most 100 of them (NIO's defaults are 80 KiB).
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: 8 * 1024, maxHeaderListSize: 16 * 1024, maxHeaderFieldCount: 100)
            ),
            ws: .init(
                // Ingest frames up to twice the limit are read (and refused
                // with a JSON error); beyond that NIO closes with 1009.
                maxFrameSize: min(2 * config.ingest.maxFrameBytes, 128 << 20),
                // Dead peers are found by this ping. A closed socket's
                // cancelled ping sleep is freed by the Swift runtime only at
                // its deadline (about 600 bytes per socket for up to 30 s).
                autoPing: .enabled(timePeriod: .seconds(30)),
                closeTimeout: .seconds(5))
        )
        let server = HTTPServerBuilder { responder in
            DeadlineChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: channelConfiguration) {
                    request, channel, _ in sockets.upgrade(request, channel: channel)
                },
                firstRequestTimeout: idleTimeout, tls: tls, connections: connections)
        }
        let scheme = tls == nil ? "http" : "https"
        let host = config.server.host
        let logger = self.logger
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(host, port: config.server.port),
                serverName: "Vigil"
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let shownHost = host.contains(":" as Character) ? "[\(host)]" : host
                logger.notice("listening on \(scheme)://\(shownHost):\(port)")
                await onListening(port)
            },
            logger: logger
        )
    }
}

/// Runs the cameras for the lifetime of the server.
struct CamerasService: Service {
    let registry: CameraRegistry
    let ingest: IngestSessions
    let progress: StartupProgress
    let logger: Logger

    func run() async throws {
        registry.hooks?.start()
        for monitor in registry.monitors {
            monitor.start()
        }
        // The service's own background tasks: cancelled and awaited before it returns.
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await ingest.runJanitor() }
            if let archive = registry.archive {
                background.addTask { await archive.runRetention() }
            }
            for camera in registry.cameras {
                await camera.activate()
            }
            logger.info(
                "\(registry.cameras.count) camera(s): \(registry.cameras.map(\.id).joined(separator: ", "))")
            progress.camerasStarted()
            // Wait for shutdown; a cancellation is a shutdown too.
            try? await gracefulShutdown()
            logger.info("shutting down: stopping cameras")
            await withTaskGroup(of: Void.self) { group in
                for camera in registry.cameras {
                    group.addTask { await camera.shutdown() }
                }
            }
            // The hubs are finished: every monitor closes its event and writes it out.
            for monitor in registry.monitors {
                await monitor.waitUntilDone()
            }
            await registry.hooks?.shutdown()
            await ingest.shutdown()
            background.cancelAll()
        }
        registry.feed.finishAll()
    }
}

struct TLSSetupError: Error, CustomStringConvertible {
    let description: String
}
