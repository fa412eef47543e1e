import Logging
import NIOCore
import Synchronization

/// Open connections per client address, against a limit: one address
/// cannot take every file descriptor. Counted when a connection is set up,
/// released when it closes; a connection over the limit is closed at once.
final class ConnectionsPerAddress: Sendable {
    let limit: Int
    private let logger: Logger
    private let open = Mutex<[String: Int]>([:])

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// Counts `channel` in; false (and nothing counted) when its address is at the limit.
    func admit(_ channel: any Channel) -> Bool {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let admitted = open.withLock { open -> Bool in
            let count = open[address, default: 0]
            guard count < limit else { return false }
            open[address] = count + 1
            return true
        }
        guard admitted else {
            logger.notice("connection refused: \(address) has \(limit) open (server.max_connections_per_address)")
            return false
        }
        channel.closeFuture.whenComplete { [self] _ in
            open.withLock { open in
                let remaining = open[address, default: 1] - 1
                open[address] = remaining > 0 ? remaining : nil
            }
        }
        return true
    }
}
