import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import Synchronization
import Testing

/// `server.tls`: MJPEG and the live socket over HTTPS and WSS with a
/// self-signed certificate made for the test by openssl.
@Suite(.serialized) struct TLSTests {
    static func makeCertificate(in dir: TempDir) throws -> (cert: String, key: String) {
        let (cert, key) = (dir.file("cert.pem"), dir.file("key.pem"))
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw HTTPTestError(description: "openssl failed") }
        return (cert, key)
    }

    /// A client that trusts exactly the test's certificate.
    static func clientTLS(trusting cert: String) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
        tls.certificateVerification = .noHostnameVerification
        return tls
    }

    @Test func streamsMJPEGAndTheLiveSocketOverTLS() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (cert, key) = try Self.makeCertificate(in: dir)
        let config = """
            server:
              tls: {cert: "\(cert)", key: "\(key)"}
            cameras:
              porch: {source: {kind: testpattern, width: 160, height: 120, fps: 10}}
            """
        let server = try VigilProcess(config: config, dir: dir)
        defer { server.stop() }
        #expect(server.output.contains("listening on https://127.0.0.1:"))
        let tls = try Self.clientTLS(trusting: cert)

        // MJPEG over HTTPS: the first part of the stream arrives, encrypted on the wire.
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await client.execute(
                HTTPClientRequest(url: "https://127.0.0.1:\(server.port)/cameras/porch/stream.mjpg"),
                timeout: .seconds(10))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("multipart/x-mixed-replace") == true)
            var received = ByteBuffer()
            for try await chunk in response.body {
                received.writeImmutableBuffer(chunk)
                if received.readableBytesView.firstRange(of: [0xFF, 0xD9]) != nil { break }
            }
            #expect(received.readableBytesView.firstRange(of: Array("--vigilframe".utf8)) != nil)
            #expect(received.readableBytesView.firstRange(of: [0xFF, 0xD8]) != nil, "a JPEG came through TLS")
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()

        // The live socket over WSS: a state message, then a JPEG.
        let gotFrame = Mutex(false)
        var logger = Logger(label: "wss-test")
        logger.logLevel = .critical
        var socketConfiguration = WebSocketClientConfiguration()
        socketConfiguration.sniHostname = "localhost"  // an IP address cannot be a TLS server name
        _ = try await WebSocketClient.connect(
            url: "wss://127.0.0.1:\(server.port)/cameras/porch/live", configuration: socketConfiguration,
            tlsConfiguration: tls, logger: logger
        ) { inbound, outbound, _ in
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .binary(let jpeg) = message, jpeg.readableBytesView.starts(with: [0xFF, 0xD8]) {
                    gotFrame.withLock { $0 = true }
                    break
                }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        #expect(gotFrame.withLock { $0 }, "a frame came over WSS")

        // Plain HTTP on the TLS port gets no answer in clear text.
        let plain = try HTTPConnection(port: server.port, timeout: 3)
        try plain.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect((try? plain.readHead()) == nil)
    }
}
