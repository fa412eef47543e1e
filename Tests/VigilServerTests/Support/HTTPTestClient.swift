import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
}

/// A plain blocking HTTP/1.1 client over a real socket, with timeouts, so
/// tests see exactly what goes over the wire (chunks, parts, boundaries).
final class HTTPConnection {
    private(set) var fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`. `receiveBuffer` shrinks SO_RCVBUF (a slow link).
    init(port: Int, timeout: Int = 10, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestError(description: "socket failed") }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let receiveBuffer {
            var size = Int32(receiveBuffer)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw HTTPTestError(description: "connect to \(port) failed: errno \(code)")
        }
    }

    deinit { close() }

    /// Closes the socket now (a viewer leaving).
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Closes with a reset (RST) instead of an orderly FIN: a client that
    /// vanishes (a phone leaving Wi-Fi, a killed browser).
    func reset() {
        guard fd >= 0 else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    func send(_ text: String) throws {
        try send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw HTTPTestError(description: "send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads at most `bytes` at a time with a pause of `pause` after each
    /// read: a viewer that drains slowly. Nil reads as fast as it can.
    var readLimit: (bytes: Int, pause: Duration)?

    /// Reads more bytes into the buffer; false at EOF.
    @discardableResult
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: readLimit?.bytes ?? 65536)
        if let (seconds, attoseconds) = readLimit?.pause.components {
            usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw HTTPTestError(description: "recv failed: errno \(errno) (timeout?)") }
        if n == 0 { return false }
        buffer += chunk[..<n]
        return true
    }

    func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A) {
                let line = buffer[..<index]
                buffer.removeFirst(index + 1)
                return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            guard try fill() else { throw HTTPTestError(description: "EOF while reading a line") }
        }
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw HTTPTestError(description: "EOF after \(buffer.count)/\(count) bytes") }
        }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Whether data arrives within `milliseconds` (or is already buffered).
    func waitReadable(milliseconds: Int32) -> Bool {
        if !buffer.isEmpty { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// Removes and returns the bytes received but not yet consumed.
    func takeBuffered() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }

    func readToEnd() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// Reads a status line and headers (lower-cased names).
    func readHead() throws -> (status: Int, headers: [String: String]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw HTTPTestError(description: "bad status line: \(statusLine)")
        }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// Reads one chunk of a chunked body; nil at the last chunk.
    func readChunk() throws -> [UInt8]? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw HTTPTestError(description: "bad chunk size line: \(sizeLine)")
        }
        if size == 0 { return nil }
        let data = try readExactly(size)
        _ = try readExactly(2)
        return data
    }
}

struct HTTPTestResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HTTPTestError(description: "not a JSON object: \(text)")
        }
        return object
    }

    func jsonArray() throws -> [[String: Any]] {
        guard let array = try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]] else {
            throw HTTPTestError(description: "not a JSON array: \(text)")
        }
        return array
    }
}

enum HTTPTestClient {
    /// One request with `Connection: close`; reads the whole response.
    /// `token`: sent as `Authorization: Bearer`.
    static func request(
        port: Int, _ method: String = "GET", _ path: String, body: [UInt8] = [], contentType: String = "image/jpeg",
        token: String? = nil
    ) throws -> HTTPTestResponse {
        let connection = try HTTPConnection(port: port)
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try connection.send(
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\(authorization)Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
        )
        if !body.isEmpty { try connection.send(bytes: body) }
        let (status, headers) = try connection.readHead()
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            while let chunk = try connection.readChunk() { body += chunk }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = try connection.readExactly(length)
        } else {
            body = try connection.readToEnd()
        }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }

    /// The camera state from the API.
    static func camera(port: Int, _ id: String) throws -> [String: Any] {
        let response = try request(port: port, "GET", "/api/v1/cameras/\(id)")
        guard response.status == 200 else {
            throw HTTPTestError(description: "camera \(id): \(response.status) \(response.text)")
        }
        return try response.json()
    }
}

/// Reads an MJPEG response part by part.
final class MJPEGTestStream {
    struct Part {
        var headers: [String: String]
        var jpeg: [UInt8]
        /// The next boundary had arrived together with the frame.
        var boundaryFollowedAtOnce: Bool
        var timestamp: Double? { headers["x-timestamp"].flatMap(Double.init) }
    }

    let connection: HTTPConnection
    let status: Int
    let headers: [String: String]
    private var body: [UInt8] = []
    private var boundary = ""
    /// Whether the body is chunked; otherwise it runs until the connection closes.
    private var chunked = false

    init(port: Int, path: String, receiveBuffer: Int? = nil) throws {
        connection = try HTTPConnection(port: port, receiveBuffer: receiveBuffer)
        try connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        (status, headers) = try connection.readHead()
        guard status == 200 else { return }
        guard let type = headers["content-type"], type.hasPrefix("multipart/x-mixed-replace"),
            let range = type.range(of: "boundary=")
        else { throw HTTPTestError(description: "not multipart: \(headers)") }
        boundary = String(type[range.upperBound...])
        chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
        try expect(Array("--\(boundary)\r\n".utf8))
    }

    private func need(_ count: Int) throws {
        while body.count < count {
            if chunked {
                guard let chunk = try connection.readChunk() else {
                    throw HTTPTestError(description: "stream ended")
                }
                body += chunk
            } else {
                body += connection.takeBuffered()
                if body.count < count, try !connection.fill() {
                    throw HTTPTestError(description: "stream ended")
                }
                body += connection.takeBuffered()
            }
        }
    }

    private func expect(_ bytes: [UInt8]) throws {
        try need(bytes.count)
        guard Array(body[..<bytes.count]) == bytes else {
            let got = String(decoding: body.prefix(bytes.count), as: UTF8.self)
            throw HTTPTestError(
                description:
                    "expected \(String(decoding: bytes, as: UTF8.self).debugDescription), got \(got.debugDescription)"
            )
        }
        body.removeFirst(bytes.count)
    }

    private func line() throws -> String {
        while true {
            if let index = body.firstIndex(of: 0x0A) {
                let line = body[..<index]
                body.removeFirst(index + 1)
                return String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
            }
            try need(body.count + 1)
        }
    }

    func nextPart() throws -> Part {
        var headers: [String: String] = [:]
        while true {
            let line = try line()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else {
                throw HTTPTestError(description: "bad part header \(line)")
            }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        guard let length = headers["content-length"].flatMap({ Int($0) }) else {
            throw HTTPTestError(description: "part without Content-Length: \(headers)")
        }
        try need(length)
        let jpeg = Array(body[..<length])
        body.removeFirst(length)
        let trailer = Array("\r\n--\(boundary)\r\n".utf8)
        // The next boundary must come with the frame, not with the next frame.
        if body.count < trailer.count, !chunked, connection.waitReadable(milliseconds: 30) {
            body += connection.takeBuffered()
            if try connection.fill() { body += connection.takeBuffered() }
        }
        let atOnce = body.count >= trailer.count
        try expect(trailer)
        return Part(headers: headers, jpeg: jpeg, boundaryFollowedAtOnce: atOnce)
    }
}
