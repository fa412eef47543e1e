import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `sd_notify` for a `Type=notify` unit: datagrams to `$NOTIFY_SOCKET`
/// (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`). Does nothing when
/// the server was not started by systemd (no `NOTIFY_SOCKET`).
///
/// The protocol is one datagram of `KEY=VALUE` lines to an `AF_UNIX` socket
/// whose path is the variable's value (`@` at its start means the abstract
/// namespace); `$WATCHDOG_USEC` says how often systemd expects `WATCHDOG=1`.
public struct SystemdNotifier: Sendable {
    /// The socket's address; nil when not under systemd.
    let path: String?
    /// How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`); nil when
    /// the unit has no watchdog.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.path = path
        if path != nil, let usec = environment["WATCHDOG_USEC"].flatMap({ Int64($0) }), usec > 0 {
            // A WATCHDOG_PID naming another process means the watchdog is not ours.
            let pid = environment["WATCHDOG_PID"].flatMap { Int32($0) }
            watchdogInterval = pid == nil || pid == getpid() ? .microseconds(usec / 2) : nil
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { path != nil }

    /// Sends `state` (lines such as `READY=1`); errors are logged, never thrown:
    /// a notification that cannot be sent must not stop the server.
    public func notify(_ state: String, logger: Logger) {
        guard let path else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            logger.warning("sd_notify: cannot open a socket: errno \(errno)")
            return
        }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // the abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            logger.warning("sd_notify: NOTIFY_SOCKET is too long: \(path)")
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let sent = state.utf8CString.withUnsafeBufferPointer { message in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message.baseAddress, message.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        if sent < 0 { logger.warning("sd_notify: cannot send to \(path): errno \(errno)") }
    }
}
