import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The limits on what a client sends, each hit for real: the server answers
/// or closes, and goes on serving everyone else.
@Suite(.serialized) struct LimitsTests {
    static let config = """
        server:
          max_connections_per_address: 4
          max_clients_per_camera: 2
        cameras:
          porch: {source: {kind: testpattern, width: 160, height: 120, fps: 5}}
        """

    /// Sends a raw request head; the status, or nil when none came within 2 s.
    static func status(_ port: Int, _ head: String) throws -> Int? {
        let connection = try HTTPConnection(port: port, timeout: 2)
        try connection.send(head)
        return try? connection.readHead().status
    }

    static func stillServes(_ port: Int) throws -> Bool {
        try HTTPTestClient.request(port: port, "GET", "/healthz").status == 200
    }

    @Test func oversizeHeadsAndTargetsAreRefused() async throws {
        try await withServer(config: Self.config) { server, _ in
            let big = String(repeating: "a", count: 9 * 1024)
            let header = try Self.status(server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
            #expect(header != 200, "a 9 KiB header is refused (\(String(describing: header)))")
            let many = (0..<101).map { "X-\($0): 1" }.joined(separator: "\r\n")
            let count = try Self.status(server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\(many)\r\n\r\n")
            #expect(count != 200, "101 headers are refused (\(String(describing: count)))")
            let longPath = "/api/v1/cameras?camera=" + String(repeating: "p", count: 2100)
            let target = try HTTPTestClient.request(port: server.port, "GET", longPath)
            #expect(target.status == 414)
            #expect(try target.json()["error"] as? String == "uri_too_long")
            let limit = try HTTPTestClient.request(
                port: server.port, "GET", "/api/v1/captures?limit=99999999999999999999")
            #expect(limit.status == 400)
            #expect(try Self.stillServes(server.port))
        }
    }

    @Test func bodiesAreBoundedPerRoute() async throws {
        try await withServer(config: Self.config) { server, _ in
            let login = try HTTPTestClient.request(
                port: server.port, "POST", "/api/v1/login", body: Array(repeating: 0x20, count: 5000),
                contentType: "application/json")
            #expect(login.status == 413, "a login body over 4 KiB")
            #expect(try Self.stillServes(server.port))
        }
    }

    @Test func oneAddressGetsAtMostItsConnectionsAndViewersPerCameraAreCapped() async throws {
        try await withServer(config: Self.config) { server, _ in
            let idleDescriptors = ProcFS.openFileDescriptors(pid: server.pid)
            // Four idle connections are kept; the fifth is closed at once.
            var held: [HTTPConnection] = []
            // One listening channel accepts (and counts) connections in order.
            for _ in 0..<4 { held.append(try HTTPConnection(port: server.port, timeout: 3)) }
            let fifth = try HTTPConnection(port: server.port, timeout: 3)
            try? fifth.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect((try? fifth.readHead()) == nil, "the fifth connection is closed without an answer")
            // The refusal is logged (stderr reaches the test a moment later).
            try await waitUntil("the refusal logged") { server.output.contains("max_connections_per_address") }
            held.forEach { $0.close() }
            // Every slot free again: the server has closed all five (the
            // viewers below need three slots at once).
            try await waitUntil("the server closed the connections") {
                ProcFS.openFileDescriptors(pid: server.pid) <= idleDescriptors
            }
            #expect(try Self.stillServes(server.port))

            // Two viewers of porch; the third is refused with 503.
            let first = try HTTPConnection(port: server.port)
            try first.send("GET /cameras/porch/stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try first.readHead().status == 200)
            let second = try HTTPConnection(port: server.port)
            try second.send("GET /cameras/porch/stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try second.readHead().status == 200)
            let third = try HTTPTestClient.request(port: server.port, "GET", "/cameras/porch/stream.mjpg")
            #expect(third.status == 503)
            #expect(try third.json()["error"] as? String == "too_many_clients")
        }
    }
}
