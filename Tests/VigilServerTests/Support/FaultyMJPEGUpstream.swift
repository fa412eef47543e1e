import Foundation
import Synchronization
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

/// An MJPEG-over-HTTP camera on 127.0.0.1 that misbehaves on request.
///
/// Each accepted connection is served on its own thread according to the
/// `behaviour` at the moment it connects. Threads notice when the client
/// goes away (poll for hang-up) so they never outlive their connection.
final class FaultyMJPEGUpstream: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// A normal stream.
        case stream
        /// `frames` frames, then half a frame, then close.
        case closeMidFrame(after: Int)
        /// `frames` frames, then silence with the connection held open.
        case zombie(after: Int)
        /// Garbage, a truncated frame and an oversize frame between good ones.
        case damaged
        /// One byte every 10 ms.
        case trickle
        /// An HTTP error status (401, 404, 500), then close.
        case status(Int)
        /// A 200 answer with an HTML page.
        case html
    }

    /// How parts are written.
    struct Style: Sendable {
        var contentLength = true
        /// Line ends inside the multipart body (the HTTP head always uses CRLF).
        var lineEnd = "\r\n"
        /// The boundary as declared in the Content-Type header.
        var declaredBoundary = "frame"
        /// The boundary as written between parts.
        var writtenBoundary = "--frame"
        var extraHeaders = ""
    }

    private struct State {
        var behaviour: Behaviour = .stream
        var style = Style()
        var credentials: String?
        var accepted = 0
        var open = 0
        var listening: Int32 = -1
        var stopped = false
        var clients: Set<Int32> = []
    }

    static func bytes(_ jpeg: ParsedJPEG) -> [UInt8] {
        jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
    }

    /// Cuts every open connection (as a crashed camera would).
    func dropAll() {
        let clients = state.withLock { $0.clients }
        for fd in clients { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private let state = Mutex(State())
    let port: Int
    let fps: Double
    let frames: [[UInt8]]
    let oversize: [UInt8]

    init(fps: Double = 20, port: Int = 0) throws {
        let renderer = try TestPatternRenderer(label: "up", width: 160, height: 120, quality: 60)
        frames = try (0..<10).map { Self.bytes(try renderer.render(index: $0)) }
        let big = try TestPatternRenderer(label: "big", width: 640, height: 480, quality: 95)
        oversize = Self.bytes(try big.render(index: 0, noise: 40))
        self.fps = fps
        let listener = try Self.listen(port: port)
        self.port = Self.boundPort(listener)
        state.withLock { $0.listening = listener }
        startAccepting(listener)
    }

    var behaviour: Behaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    var style: Style {
        get { state.withLock { $0.style } }
        set { state.withLock { $0.style = newValue } }
    }

    /// Require HTTP basic auth with these `user:password` credentials.
    func requireCredentials(_ credentials: String?) {
        state.withLock { $0.credentials = credentials }
    }

    /// Connections accepted so far.
    var accepted: Int { state.withLock { $0.accepted } }
    /// Connections currently being served.
    var openConnections: Int { state.withLock { $0.open } }

    /// Stops listening: new connections are refused.
    func refuse() {
        let fd = state.withLock { state -> Int32 in
            defer { state.listening = -1 }
            return state.listening
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    /// Listens again on the same port.
    func resume() throws {
        let listener = try Self.listen(port: port)
        state.withLock { $0.listening = listener }
        startAccepting(listener)
    }

    /// Stops listening and ends every connection.
    func stop() {
        state.withLock { $0.stopped = true }
        refuse()
    }

    deinit { stop() }

    // MARK: Sockets

    static func listen(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw HTTPTestError(description: "cannot listen on \(port): errno \(errno)")
        }
        return fd
    }

    static func boundPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func startAccepting(_ listener: Int32) {
        let thread = Thread { [weak self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                guard let self else {
                    close(client)
                    return
                }
                let (behaviour, style, credentials, stopped) = self.state.withLock { state in
                    state.accepted += 1
                    state.open += 1
                    state.clients.insert(client)
                    return (state.behaviour, state.style, state.credentials, state.stopped)
                }
                if stopped {
                    close(client)
                    self.state.withLock { $0.open -= 1 }
                    return
                }
                let connection = Thread {
                    self.serve(client, behaviour: behaviour, style: style, credentials: credentials)
                    self.state.withLock {
                        $0.open -= 1
                        $0.clients.remove(client)
                    }
                    close(client)
                }
                connection.start()
            }
        }
        thread.start()
    }

    // MARK: Serving

    private func serve(_ fd: Int32, behaviour: Behaviour, style: Style, credentials: String?) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard let request = readRequest(fd) else { return }
        if let credentials {
            let expected = "authorization: basic " + Data(credentials.utf8).base64EncodedString().lowercased()
            guard request.lowercased().contains(expected) else {
                _ = send(
                    fd,
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\nContent-Length: 0\r\n\r\n")
                return
            }
        }
        switch behaviour {
        case .status(let code):
            _ = send(fd, "HTTP/1.1 \(code) Failure\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nfail")
            return
        case .html:
            let page = "<html><body>login</body></html>"
            _ = send(
                fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\n\r\n\(page)")
            waitForHangUp(fd, milliseconds: 5000)
            return
        default:
            break
        }
        guard
            send(
                fd,
                "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=\(style.declaredBoundary)\r\nConnection: close\r\n\r\n"
            )
        else { return }
        var index = 0
        while true {
            switch behaviour {
            case .closeMidFrame(let after) where index == after:
                let frame = frames[index % frames.count]
                _ = sendPart(fd, Array(frame[..<(frame.count / 2)]), style: style, declaredLength: frame.count)
                return
            case .zombie(let after) where index >= after:
                waitForHangUp(fd, milliseconds: 60_000)
                return
            case .trickle:
                let part = partBytes(frames[index % frames.count], style: style)
                for byte in part {
                    guard send(fd, [byte]) else { return }
                    if waitForHangUp(fd, milliseconds: 10) { return }
                }
                index += 1
                continue
            case .damaged where index % 4 == 1:
                var garbage = [UInt8](repeating: 0, count: 700)
                for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
                guard send(fd, garbage) else { return }
            case .damaged where index % 4 == 2:
                let frame = frames[index % frames.count]
                guard sendPart(fd, Array(frame[..<(frame.count / 3)]), style: style, declaredLength: nil) else {
                    return
                }
            case .damaged where index % 4 == 3:
                guard sendPart(fd, oversize, style: style, declaredLength: nil) else { return }
            default:
                break
            }
            guard sendPart(fd, frames[index % frames.count], style: style, declaredLength: nil) else { return }
            index += 1
            if waitForHangUp(fd, milliseconds: Int32(1000 / fps)) { return }
            if state.withLock({ $0.stopped }) { return }
        }
    }

    private func partBytes(_ jpeg: [UInt8], style: Style, declaredLength: Int? = nil) -> [UInt8] {
        let end = style.lineEnd
        var head = "\(style.writtenBoundary)\(end)Content-Type: image/jpeg\(end)"
        if style.contentLength { head += "Content-Length: \(declaredLength ?? jpeg.count)\(end)" }
        head += style.extraHeaders
        head += end
        return Array(head.utf8) + jpeg + Array(end.utf8)
    }

    private func sendPart(_ fd: Int32, _ jpeg: [UInt8], style: Style, declaredLength: Int?) -> Bool {
        send(fd, partBytes(jpeg, style: style, declaredLength: declaredLength))
    }

    private func readRequest(_ fd: Int32) -> String? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while data.count < 65536 {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 5000) > 0 else { return nil }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            data += chunk[..<n]
            if let text = String(bytes: data, encoding: .utf8), text.contains("\r\n\r\n") { return text }
        }
        return nil
    }

    /// Waits up to `milliseconds`; true when the client closed its side.
    @discardableResult
    private func waitForHangUp(_ fd: Int32, milliseconds: Int32) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(milliseconds))
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.stopped }) { return true }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = max(1, Int32((deadline - ContinuousClock.now).seconds * 1000))
            let ready = poll(&descriptor, 1, min(left, 50))
            if ready > 0 {
                var byte: UInt8 = 0
                let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if n == 0 || (n < 0 && errno != EAGAIN) { return true }
            }
        }
        return false
    }

    private func send(_ fd: Int32, _ text: String) -> Bool {
        send(fd, Array(text.utf8))
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
