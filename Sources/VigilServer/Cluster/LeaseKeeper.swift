// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import Logging
    import ServiceLifecycle
    import VigilAPI
    import VigilCore

    /// Holds this node's camera leases in PostgreSQL (`cluster:`): every
    /// `lease / 3` it says it is alive, renews what it holds, takes free
    /// cameras up to its share (`LeasePlan`), gives up what it should, and
    /// applies desired states set through other nodes.
    ///
    /// Why a lease row and not a session advisory lock: a lock lives as long
    /// as a connection, and a frozen node (SIGSTOP, a stalled VM) keeps its
    /// TCP connection, so its cameras would never move. A row with an expiry
    /// moves after `lease` whatever the node's sockets do; the generation,
    /// raised at every change of owner, fences a returning node's releases.
    ///
    /// Safety: a camera must never run on two nodes. The database expires a
    /// lease `lease` after the renewal that reached it; this node stops its
    /// cameras `lease` after it *sent* its last successful renewal (the fence,
    /// measured on the monotonic clock), which is never later. A node that was
    /// frozen past that point stops everything the moment it runs again, before
    /// it talks to the database.
    actor LeaseKeeper: Service {
        private let store: PostgresStore
        private let registry: CameraRegistry
        private let directory: RelayDirectory
        private let cluster: ClusterConfig
        private let logger: Logger
        /// Cameras held, with the generation they were taken at.
        private var held: [String: Int] = [:]
        /// The sources here must be stopped by then unless a renewal succeeds.
        private var validUntil = ContinuousClock.now
        private var databaseDown = false

        init(
            store: PostgresStore, registry: CameraRegistry, directory: RelayDirectory, cluster: ClusterConfig,
            logger: Logger
        ) {
            self.store = store
            self.registry = registry
            self.directory = directory
            self.cluster = cluster
            var logger = logger
            logger[metadataKey: "node"] = "\(cluster.nodeID)"
            self.logger = logger
        }

        private var interval: Duration { cluster.lease / 3 }

        func run() async throws {
            logger.info("cluster: node \(cluster.nodeID) at \(cluster.advertiseURL), lease \(cluster.lease)")
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.fence() }
                    group.addTask { await self.tickUntilShutdown() }
                    await group.next()
                    group.cancelAll()
                }
            }
            await releaseAll()
        }

        private func tickUntilShutdown() async {
            // One round of heartbeats first, so nodes starting together see
            // each other before anyone takes a camera.
            try? await store.heartbeat(advertiseURL: cluster.advertiseURL)
            var next = ContinuousClock.now + interval
            while (try? await Task.sleep(until: next)) != nil {
                let started = ContinuousClock.now
                next = started + interval
                if let expiry = await tick() {
                    // Awake just after another node's lease runs out, to take
                    // its camera then rather than up to a round later.
                    next = min(next, started + expiry + .milliseconds(50))
                }
            }
        }

        /// One round; a database error is logged once until it recovers, and
        /// the cameras keep running until the fence. Answers when the soonest
        /// lease of another node expires, if one does before the next round.
        private func tick() async -> Duration? {
            let started = ContinuousClock.now
            do {
                try await store.heartbeat(advertiseURL: cluster.advertiseURL)
                let renewed = try await store.renewLeases(for: cluster.lease)
                for (camera, generation) in held where renewed[camera] != generation {
                    held[camera] = nil
                    await registry.letGo(camera, reason: "lost (another node holds it now)")
                }
                // The database says these are ours until `lease` after `started` at least.
                validUntil = started + cluster.lease
                for (camera, generation) in renewed where held[camera] == nil {
                    // Renewed but not running here: the fence stopped it while
                    // the renewal was on its way. It is still ours.
                    held[camera] = generation
                    await registry.hold(camera)
                }
                if databaseDown {
                    databaseDown = false
                    logger.notice("cluster: the store answers again; \(held.count) camera(s) held")
                }
                let soonest = try await rebalance()
                try await applyDesiredStates()
                return soonest
            } catch {
                if !databaseDown {
                    databaseDown = true
                    logger.error(
                        "cluster: cannot reach the store (\(error)); cameras here keep running until their leases end")
                }
                return nil
            }
        }

        /// Gives up and takes cameras as `LeasePlan` says; answers when the
        /// soonest unexpired lease of another node runs out.
        private func rebalance() async throws -> Duration? {
            let nodes = try await store.liveNodes(within: cluster.lease)
            let live = Set(nodes.keys)
            var leases: [String: CameraLease] = [:]
            for lease in try await store.leases() { leases[lease.camera] = lease }
            // Viewers here of a camera another node runs are relayed from it.
            var owners: [String: String] = [:]
            for lease in leases.values where !lease.expired && lease.node != cluster.nodeID {
                owners[lease.camera] = lease.node
            }
            directory.update(addresses: nodes, owners: owners)
            let plan = LeasePlan.make(
                node: cluster.nodeID, cameras: registry.cameras.map { ($0.id, $0.config.prefer) }, live: live,
                leases: leases, held: Set(held.keys))
            for camera in plan.release {
                guard let generation = held.removeValue(forKey: camera) else { continue }
                // Stopped here before the lease is given up: never on two nodes.
                await registry.letGo(camera, reason: "given up to balance the cluster")
                try await store.releaseLease(camera: camera, generation: generation)
            }
            for camera in plan.acquire {
                guard ContinuousClock.now < validUntil else { break }
                guard let generation = try await store.acquireLease(camera: camera, for: cluster.lease) else {
                    continue
                }
                held[camera] = generation
                await registry.hold(camera)
            }
            let others = leases.values.filter { !$0.expired && $0.node != cluster.nodeID }
            return others.map(\.expiresIn).min().map { .milliseconds(Int64(max(0, $0) * 1000)) }
        }

        /// Starts and stops asked of other nodes reach the cameras here.
        private func applyDesiredStates() async throws {
            for (id, desired) in try await store.desiredStates() {
                await registry.camera(id)?.adopt(desired: desired)
            }
        }

        /// Stops every camera here when `validUntil` passes without a renewal.
        private func fence() async {
            while !Task.isCancelled {
                let now = ContinuousClock.now
                guard !held.isEmpty, now >= validUntil else {
                    // Awake at the deadline, and at least every round (a camera
                    // may be taken while this sleeps).
                    let wake = validUntil > now ? min(validUntil, now + interval) : now + interval
                    guard (try? await Task.sleep(until: wake)) != nil else { return }
                    continue
                }
                let cameras = held.keys.sorted()
                held.removeAll()
                logger.error(
                    "cluster: no lease renewal for \(cluster.lease): stopping \(cameras.joined(separator: ", ")) here")
                for camera in cameras {
                    await registry.letGo(camera, reason: "expired without renewal")
                }
            }
        }

        /// At shutdown: the cameras stop here and their leases are given up,
        /// so other nodes take them at their next round instead of after `lease`.
        private func releaseAll() async {
            let cameras = held
            held.removeAll()
            for (camera, generation) in cameras {
                await registry.letGo(camera, reason: "given up at shutdown")
                try? await store.releaseLease(camera: camera, generation: generation)
            }
            if !cameras.isEmpty { logger.info("cluster: gave up \(cameras.count) lease(s) at shutdown") }
        }
    }
#endif
