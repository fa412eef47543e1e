import Crypto
import Foundation
import HummingbirdBcrypt
import Testing
import VigilAPI

@testable import VigilServer

/// Who may do what, against a real server: every route and socket of the
/// access table × no credential and each kind of credential × each role.
@Suite(.serialized) struct AccessTests {
    /// One user and one token per role; bcrypt at its lowest cost keeps the test fast.
    static let password = "correct horse"
    static func token(_ role: Role) -> String { "token-of-\(role.rawValue)-0123456789" }

    static let config: String = {
        let hash = Bcrypt.hash(password, cost: 4)
        var lines = [
            "cameras:",
            "  porch: {source: {kind: testpattern, width: 160, height: 120, fps: 5}}",
            "auth:",
            "  users:",
        ]
        for role in Role.allCases {
            lines.append("    - {name: user-\(role.rawValue), role: \(role.rawValue), password_hash: \"\(hash)\"}")
        }
        lines.append("  tokens:")
        for role in Role.allCases {
            lines.append(
                "    - {name: token-\(role.rawValue), role: \(role.rawValue), token_sha256: \(tokenSHA256(token(role)))}"
            )
        }
        lines.append("  lockout: {attempts: 3, window: 1m, duration: 2s}")
        return lines.joined(separator: "\n") + "\n"
    }()

    enum Credential: CustomStringConvertible {
        case none
        case basic(Role)
        case bearer(Role)
        case query(Role)
        case cookie(String, Role)

        var role: Role? {
            switch self {
            case .none: return nil
            case .basic(let role), .bearer(let role), .query(let role), .cookie(_, let role): return role
            }
        }

        var description: String {
            switch self {
            case .none: return "none"
            case .basic(let role): return "basic \(role.rawValue)"
            case .bearer(let role): return "bearer \(role.rawValue)"
            case .query(let role): return "?token= \(role.rawValue)"
            case .cookie(_, let role): return "cookie \(role.rawValue)"
            }
        }
    }

    /// The status of one request (the body is not read: streams never end);
    /// for a socket, 101 and the close code it is closed with at once, if any.
    static func status(
        port: Int, _ method: String, _ path: String, credential: Credential, webSocket: Bool = false
    ) throws -> (Int, [String: String]) {
        try answer(port: port, method, path, credential: credential, webSocket: webSocket).head
    }

    static func answer(
        port: Int, _ method: String, _ path: String, credential: Credential, webSocket: Bool = false
    ) throws -> (head: (Int, [String: String]), closeCode: Int?) {
        var target = path
        var headers = ["Host: 127.0.0.1", "Connection: \(webSocket ? "Upgrade" : "close")", "Content-Length: 0"]
        switch credential {
        case .none: break
        case .basic(let role):
            let pair = Data("user-\(role.rawValue):\(password)".utf8).base64EncodedString()
            headers.append("Authorization: Basic \(pair)")
        case .bearer(let role): headers.append("Authorization: Bearer \(token(role))")
        case .query(let role): target += (target.contains("?") ? "&" : "?") + "token=\(token(role))"
        case .cookie(let cookie, _): headers.append("Cookie: theme=dark; \(cookie)")
        }
        if webSocket {
            headers += [
                "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ]
        }
        let connection = try HTTPConnection(port: port, timeout: 2)
        try connection.send("\(method) \(target) HTTP/1.1\r\n" + headers.joined(separator: "\r\n") + "\r\n\r\n")
        let head = try connection.readHead()
        guard webSocket, head.status == 101 else { return (head, nil) }
        // Server frames are unmasked: opcode, a short length, the payload.
        // A refused socket sends its error, then a close frame at once; an
        // accepted one sends state or nothing within the timeout.
        while connection.waitReadable(milliseconds: 300) {
            let header = try connection.readExactly(2)
            var length = Int(header[1] & 0x7F)
            if length == 126 {
                let extended = try connection.readExactly(2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                return (head, nil)  // a frame: the socket is open
            }
            let payload = try connection.readExactly(length)
            if header[0] & 0x0F == 0x8 {
                return (head, payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005)
            }
            if header[0] & 0x0F == 0x2 { return (head, nil) }  // a JPEG: open
        }
        return (head, nil)
    }

    /// Logs in through the page's form; the session cookie.
    static func login(port: Int, _ role: Role) throws -> String {
        let body = Array(#"{"name":"user-\#(role.rawValue)","password":"\#(password)"}"#.utf8)
        let connection = try HTTPConnection(port: port)
        try connection.send(
            "POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        )
        try connection.send(bytes: body)
        let (status, headers) = try connection.readHead()
        #expect(status == 200, "login as \(role)")
        let setCookie = try #require(headers["set-cookie"])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        return String(setCookie.split(separator: ";")[0])
    }

    @Test func everyRouteAndSocketAnswersEachRoleAsTheTableSays() async throws {
        try await withServer(config: Self.config) { server, _ in
            var credentials: [Credential] = [.none]
            for role in Role.allCases {
                credentials += [
                    .basic(role), .bearer(role), .query(role), .cookie(try Self.login(port: server.port, role), role),
                ]
            }
            var checked = 0
            for rule in AccessTable.rules {
                let path = "/" + rule.pattern.segments.map { $0.hasPrefix("{") ? "porch" : $0 }.joined(separator: "/")
                for credential in credentials {
                    let isSocket = rule.method == nil
                    let (head, closeCode) = try Self.answer(
                        port: server.port, rule.method?.rawValue ?? "GET", path, credential: credential,
                        webSocket: isSocket)
                    let (status, headers) = head
                    // A socket answers with its close code (4000 + the HTTP status).
                    let effective = isSocket ? (closeCode.map { $0 - 4000 } ?? status) : status
                    let context =
                        "\(rule.method?.rawValue ?? "WS") \(path) with \(credential): \(status) \(closeCode ?? 0)"
                    switch (rule.role, credential.role) {
                    case (nil, _):
                        #expect(effective != 401 && effective != 403, "public: \(context)")
                    case (.some, nil):
                        #expect(effective == 401, "\(context)")
                        if !isSocket {
                            #expect(
                                headers["www-authenticate"]?.hasPrefix("Basic realm=\"vigil\"") == true, "\(context)")
                        }
                    case (let needed?, let role?):
                        if role >= needed {
                            #expect(effective != 401 && effective != 403, "allowed: \(context)")
                            if isSocket { #expect(status == 101 && closeCode == nil, "upgraded and open: \(context)") }
                        } else {
                            #expect(effective == 403, "forbidden: \(context)")
                        }
                    }
                    checked += 1
                }
            }
            #expect(checked == AccessTable.rules.count * credentials.count)
        }
    }

    @Test func homeAssistantGetsABasicChallengeThenAStream() async throws {
        try await withServer(config: Self.config) { server, _ in
            let (challenge, headers) = try Self.status(
                port: server.port, "GET", "/cameras/porch/stream.mjpg", credential: .none)
            #expect(challenge == 401)
            #expect(headers["www-authenticate"] == "Basic realm=\"vigil\", charset=\"UTF-8\"")
            // The page's own requests get no challenge (the browser would open its dialog).
            let connection = try HTTPConnection(port: server.port)
            try connection.send(
                "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Requested-With: vigil-page\r\n\r\n"
            )
            let (pageStatus, pageHeaders) = try connection.readHead()
            #expect(pageStatus == 401 && pageHeaders["www-authenticate"] == nil)
            let (status, streamHeaders) = try Self.status(
                port: server.port, "GET", "/cameras/porch/stream.mjpg", credential: .basic(.viewer))
            #expect(status == 200)
            #expect(streamHeaders["content-type"]?.hasPrefix("multipart/x-mixed-replace") == true)
        }
    }

    @Test func failuresLockAnAddressOutForAWhileEvenWithTheRightPassword() async throws {
        try await withServer(config: Self.config) { server, _ in
            func attempt(_ password: String) throws -> Int {
                let connection = try HTTPConnection(port: server.port)
                let pair = Data("user-viewer:\(password)".utf8).base64EncodedString()
                try connection.send(
                    "GET /api/v1/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Basic \(pair)\r\n\r\n"
                )
                return try connection.readHead().status
            }
            #expect(try attempt("wrong-1") == 401)
            #expect(try attempt("wrong-2") == 401)
            #expect(try attempt("wrong-3") == 429, "the third failure within the window locks out")
            #expect(try attempt(Self.password) == 429, "the right password is refused during the lockout")
            try await waitUntil("the lockout ends", timeout: .seconds(10), every: .milliseconds(200)) {
                try attempt(Self.password) == 200
            }
            try await waitUntil("the lockout logged") { server.output.contains("locked out 127.0.0.1") }
            #expect(!server.output.contains("wrong-1"), "no password in the log")
        }
    }

    @Test func theCommandLineCarriesATokenAndSaysWhenItIsRefused() async throws {
        try await withServer(config: Self.config) { server, dir in
            let url = "http://127.0.0.1:\(server.port)"
            let refused = try Binaries.run(["capture", url, "porch", "--out", dir.file("none.jpg")])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("401 unauthorized"), "\(refused.stderr)")
            let viewer = try Binaries.run(["capture", url, "porch", "--token", Self.token(.viewer)])
            #expect(viewer.stderr.contains("403 forbidden"), "a viewer may not capture: \(viewer.stderr)")
            let out = dir.file("porch.jpg")
            let done = try Binaries.run(["capture", url, "porch", "--token", Self.token(.operator), "--out", out])
            #expect(done.status == 0, "\(done.stderr)")
            #expect(FileManager.default.fileExists(atPath: out))
        }
    }

    @Test func aNonLoopbackAddressWithoutAuthGetsAGeneratedAdminToken() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        // 0.0.0.0 listens on every address; the test still connects to 127.0.0.1.
        let server = try VigilProcess(config: nil, dir: dir, host: "0.0.0.0")
        defer { server.stop() }
        let tokenFile = server.dataDir + "/admin-token"
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(token.count == 48)
        // Printed right after the listening line, which is what the start waited for.
        try await waitUntil("the URL with the token printed") { server.output.contains("?token=\(token)") }
        let open = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras")
        #expect(open.status == 401)
        let withToken = try HTTPTestClient.request(port: server.port, "GET", "/api/v1/cameras?token=\(token)")
        #expect(withToken.status == 200)
        // A second start keeps the token and does not print it again.
        server.stop()
        let again = try VigilProcess(config: nil, dir: dir, dataDir: server.dataDir, host: "0.0.0.0")
        defer { again.stop() }
        #expect(!again.output.contains("?token="))
        #expect(try HTTPTestClient.request(port: again.port, "GET", "/api/v1/cameras?token=\(token)").status == 200)
    }
}
