// Built with the PostgreSQL trait (the default); see Package.swift.
#if PostgreSQL
    import Logging
    import ServiceLifecycle
    import Synchronization
    import VigilAPI
    import VigilCore

    #if canImport(FoundationEssentials)
        import FoundationEssentials
    #else
        import Foundation
    #endif

    /// One view from every node: the states of the cameras this node runs and
    /// the motion and capture changes it makes go to the other nodes; theirs
    /// come in and are published on this node's feed (with this node's
    /// versions), so `/api/v1/events`, `/api/v1/cameras` and the page show
    /// every camera of the cluster with its owner.
    ///
    /// Notices are sent in feed order by one task, from a bounded queue (the
    /// oldest dropped when the database is away for long; a node that listens
    /// again asks for every state anyway).
    final class ClusterBridge: FeedSubscriber, Service, Sendable {
        private let store: PostgresStore
        private let registry: CameraRegistry
        private let directory: RelayDirectory
        private let node: String
        private let logger: Logger
        private let listenFailing = Atomic(false)
        private let outgoing = BoundedQueue<ServerMessage>(capacity: 4096, overflow: .dropOldest)

        init(store: PostgresStore, registry: CameraRegistry, directory: RelayDirectory, node: String, logger: Logger) {
            self.store = store
            self.registry = registry
            self.directory = directory
            self.node = node
            self.logger = logger
        }

        // MARK: - Out

        /// Starts and stops asked of this node go to the others at once (the
        /// node running the camera would otherwise learn it at its next round).
        private func sendDesiredChanges() async {
            while let change = await registry.desiredStored.next() {
                try? await send(ClusterNotice(node: node, desired: change))
            }
        }

        func deliver(_ event: FeedMessage) {
            guard event.origin == nil else { return }  // relayed from another node
            switch event.message {
            case .state(_, let camera) where camera.owner == node:
                outgoing.push(event.message)
            case .motion, .capture:
                outgoing.push(event.message)
            default:
                break
            }
        }

        func finishFeed() {
            outgoing.finish()
        }

        private func sendNotices() async {
            var failing = false
            while let message = await outgoing.next() {
                do {
                    try await send(ClusterNotice(node: node, message: message))
                    if failing {
                        failing = false
                        logger.notice("cluster: notices reach the store again")
                    }
                } catch {
                    if !failing {
                        failing = true
                        logger.warning("cluster: cannot send a notice to the other nodes: \(error)")
                    }
                }
            }
        }

        private func send(_ notice: ClusterNotice) async throws {
            let payload = WireJSON.text(notice)
            guard payload.utf8.count <= PostgresStore.maxNoticeBytes else {
                logger.warning("cluster: a notice of \(payload.utf8.count) bytes is too large for NOTIFY; not sent")
                return
            }
            try await store.notify(payload)
        }

        // MARK: - In

        private func receive(_ payload: String) async {
            guard let notice = try? WireJSON.decode(ClusterNotice.self, from: payload), notice.node != node else {
                return
            }
            if let change = notice.desired {
                await registry.camera(change.camera)?.adopt(desired: change.desired)
            }
            if notice.sync == true {
                for camera in registry.cameras where await camera.isHeldHere {
                    await camera.republish()
                }
            }
            switch notice.message {
            case .state(_, let state)?:
                // Before the state is shown: whoever sees the new owner can reach it.
                directory.camera(state.id, runsOn: notice.node)
                await registry.camera(state.id)?.mirror(state, from: notice.node)
            case .motion(let change)?:
                registry.feed.publish(origin: notice.node) { version in
                    var change = change
                    change.version = version
                    return .motion(change)
                }
            case .capture(let change)?:
                registry.feed.publish(origin: notice.node) { version in
                    var change = change
                    change.version = version
                    return .capture(change)
                }
            default:
                break
            }
        }

        /// Listens until shutdown, again after every lost connection.
        private func listenAlways() async {
            while !Task.isCancelled {
                do {
                    try await store.listen(
                        listening: {
                            if self.listenFailing.exchange(false, ordering: .relaxed) {
                                self.logger.notice("cluster: listening to the other nodes again")
                            }
                            try? await self.send(ClusterNotice(node: self.node, sync: true))
                        },
                        received: { await self.receive($0) })
                } catch {
                    // Once per outage, not once a second.
                    if !listenFailing.exchange(true, ordering: .relaxed) {
                        logger.warning("cluster: lost the store's notices (\(error)); listening again")
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }

        func run() async throws {
            registry.feed.subscribe(self)
            defer { registry.feed.unsubscribe(self) }
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.sendNotices() }
                    group.addTask { await self.sendDesiredChanges() }
                    group.addTask { await self.listenAlways() }
                    await group.next()
                    group.cancelAll()
                }
            }
        }
    }
#endif
