import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// WebSocket clients that come and go leave nothing behind: thousands of
/// sockets of each kind opened and dropped (half of them with a reset) against
/// a real `vigil serve`, whose anonymous memory must come back to where it was.
///
/// Before the fix, every upgraded connection stayed in memory for good (a
/// reference cycle in the WebSocket router's request context held its NIO
/// channel): these 3,000 sockets grew RssAnon by 16.5 MB.
///
/// A socket that ended leaves about 600 bytes behind for up to the WebSocket
/// ping period: its cancelled ping and close-handshake sleeps, which the Swift
/// runtime frees only at their deadline. That is bounded by the rate of
/// connections, not by uptime; the test waits it out before each reading so
/// that only memory that never comes back is counted.
@Suite(.serialized) struct SocketLeakTests {
    static let config = """
        cameras:
          alpha: {source: {kind: testpattern, width: 320, height: 240, fps: 15}}
        """
    /// The three kinds of socket a viewer opens.
    static let paths = ["/cameras/alpha/live", "/api/v1/live?cameras=alpha", "/api/v1/events"]
    /// Growth allowed after 3,000 sockets: allocator noise (a few arenas
    /// settling), a tenth of what the leak grew. A leak of 500 bytes per
    /// socket would exceed it.
    static let allowedGrowth = 1536 * 1024
    /// The server's WebSocket ping period (`autoPing` in VigilServer) and a
    /// margin: by then every sleep of a closed socket has expired.
    static let settle: Duration = .seconds(32)

    /// Opens `perKind` sockets of each kind, a few at a time; each reads its
    /// first message (the handler ran) and leaves, every other one with a
    /// reset instead of a close.
    static func churn(port: Int, perKind: Int) throws {
        let failures = Mutex<[String]>([])
        let workers = 4
        let total = perKind * paths.count
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: total, by: workers) {
                do {
                    let socket = try RawWebSocket(port: port, path: paths[index % paths.count])
                    let first = try socket.readMessage()
                    if first.opcode == 0x8 { throw HTTPTestError(description: "closed at once: \(first.text)") }
                    if (index / paths.count) % 2 == 0 {
                        socket.connection.reset()
                    } else {
                        socket.connection.close()
                    }
                } catch {
                    failures.withLock { $0.append("\(paths[index % paths.count]): \(error)") }
                }
            }
        }
        let found = failures.withLock { $0 }
        if !found.isEmpty {
            throw HTTPTestError(description: "\(found.count) sockets failed, first: \(found[0])")
        }
    }

    /// Waits until the server has closed every socket (its descriptors are
    /// back to `baseline`) and their timers have expired; its RssAnon then.
    static func settledMemory(_ server: VigilProcess, baseline: Int) async throws -> Int {
        try await waitUntil("the server's sockets closed", timeout: .seconds(60)) {
            ProcFS.openFileDescriptors(pid: server.pid) <= baseline
        }
        try await Task.sleep(for: settle)
        return try #require(ProcFS.rssAnon(pid: server.pid))
    }

    @Test func thousandsOfSocketsComeAndGoAndMemoryComesBack() async throws {
        let dir = try TempDir()
        let server = try VigilProcess(config: Self.config, dir: dir)
        defer { server.stop() }
        let idleDescriptors = ProcFS.openFileDescriptors(pid: server.pid)

        // Warm-up, the same load: thread pools, allocator arenas and caches
        // reach the size this load needs.
        try Self.churn(port: server.port, perKind: 1000)
        let before = try await Self.settledMemory(server, baseline: idleDescriptors)

        try Self.churn(port: server.port, perKind: 1000)
        let after = try await Self.settledMemory(server, baseline: idleDescriptors)

        let grown = after - before
        print("3000 sockets opened and dropped: RssAnon \(before / 1024) KiB -> \(after / 1024) KiB")
        #expect(
            grown < Self.allowedGrowth,
            "RssAnon grew by \(grown / 1024) KiB over 3,000 sockets (\(grown / 3000) bytes a socket)")
        // Still serving.
        let socket = try RawWebSocket(port: server.port, path: "/api/v1/events")
        #expect(try socket.readMessage().text.contains("\"hello\""))
    }
}
