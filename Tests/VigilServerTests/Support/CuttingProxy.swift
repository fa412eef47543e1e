import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that cuts its first connection after
/// `cutAfter` bytes from the client, mid-stream, as a dropped link would;
/// later connections pass through untouched.
final class CuttingProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let cutDone = Mutex(false)
    private let connections = Mutex(0)

    var connectionCount: Int { connections.withLock { $0 } }

    init(upstreamPort: Int, cutAfter: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw HTTPTestError(description: "proxy: cannot listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                connections.withLock { $0 += 1 }
                let upstream = (try? HTTPConnection(port: upstreamPort, timeout: 60))
                guard let upstream else {
                    close(client)
                    continue
                }
                let server = dup(upstream.fd)
                upstream.close()
                let cut = cutDone.withLock { done -> Bool in
                    defer { done = true }
                    return !done
                }
                Thread.detachNewThread { Self.pump(from: client, to: server, limit: cut ? cutAfter : nil) }
                Thread.detachNewThread { Self.pump(from: server, to: client, limit: nil) }
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// Copies bytes until EOF (or `limit`), then shuts both sockets down.
    private static func pump(from source: Int32, to destination: Int32, limit: Int?) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var total = 0
        while true {
            var want = buffer.count
            if let limit { want = min(want, limit - total) }
            if want <= 0 { break }
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, want, 0) }
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                let sent = buffer[offset..<n].withUnsafeBytes {
                    send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { break }
                offset += sent
            }
            total += n
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
        close(source)  // each socket is the source of exactly one pump
    }
}
