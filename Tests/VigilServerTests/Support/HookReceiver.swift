import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A webhook endpoint on 127.0.0.1: records every request body and answers
/// with the next status of `statuses` (the last one repeats).
final class HookReceiver: @unchecked Sendable {
    private let statuses: [Int]
    private let listener: Int32
    let port: Int
    private let received = Mutex<[(path: String, body: String)]>([])

    init(statuses: [Int]) throws {
        self.statuses = statuses
        listener = try FaultyMJPEGUpstream.listen(port: 0)
        port = FaultyMJPEGUpstream.boundPort(listener)
        let thread = Thread { [listener] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                Thread { self.serve(client) }.start()
            }
        }
        thread.start()
    }

    var requests: [(path: String, body: String)] { received.withLock { $0 } }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var headEnd: Int?
        var length = 0
        while true {
            if let end = headEnd, data.count >= end + length { break }
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { return }
            data += chunk[0..<n]
            if headEnd == nil, let range = data.firstRange(of: Array("\r\n\r\n".utf8)) {
                headEnd = range.upperBound
                let head = String(decoding: data[0..<range.lowerBound], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
        }
        let head = String(decoding: data[0..<headEnd!], as: UTF8.self)
        let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let body = String(decoding: data[headEnd!..<(headEnd! + length)], as: UTF8.self)
        let index = received.withLock { list in
            list.append((path, body))
            return list.count - 1
        }
        let status = statuses[min(index, statuses.count - 1)]
        let response = "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        _ = response.withCString { write(fd, $0, strlen($0)) }
    }
}
