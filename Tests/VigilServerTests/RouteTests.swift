import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VigilAPI
import VigilCore

@testable import VigilServer

/// The HTTP routes in process (HummingbirdTesting, no socket): what every
/// answer looks like, where a whole server process is not what is tested.
@Suite struct RouteTests {
    /// A router over a registry whose cameras are never started.
    func withRouter(_ test: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        var config = try ConfigLoader.parse(
            """
            cameras:
              porch: {source: {kind: testpattern}}
            """)
        config.server.dataDir = dir.file("data")
        let store = try SQLiteStore(directory: DataDirectory(config.server.dataDir))
        let registry = await CameraRegistry(config: config, store: store, logger: .quietForTests)
        let ingest = try await IngestSessions(
            config: config.ingest, store: store, feed: registry.feed, logger: .quietForTests
        ) { _, _, _ in "no commands here" }
        let server = VigilServer(config: config, logger: .quietForTests)
        var open = AuthConfig()
        open.mode = .none
        let access = AccessControl(config: open, sessionKey: SymmetricKey(size: .bits256), logger: .quietForTests)
        let app = Application(router: server.makeRouter(registry: registry, ingest: ingest, access: access))
        try await app.test(.router, test)
    }

    @Test func camerasAnswerTheirTypedStates() async throws {
        try await withRouter { client in
            try await client.execute(uri: APIPath.cameras, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                let cameras = try WireJSON.decode([CameraState].self, from: response.body.readableBytesView)
                #expect(cameras.map(\.id) == ["porch"])
                #expect(cameras.first?.phase == .stopped, "never activated")
            }
        }
    }

    @Test(arguments: [
        (APIPath.camera("nope"), 404, "unknown_camera"),
        (APIPath.captures + "?limit=0", 400, "bad_parameter"),
        (APIPath.capture("NOT-AN-ID"), 404, "unknown_capture"),
        (APIPath.session("s0"), 404, "unknown_session"),
        ("/no/such/path", 404, "not_found"),
        (APIPath.liveSocket, 426, "websocket_required"),
    ])
    func errorsAreJSONWithACode(uri: String, status: Int, code: String) async throws {
        try await withRouter { client in
            try await client.execute(uri: uri, method: .get) { response in
                #expect(Int(response.status.code) == status, "\(uri)")
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let body = try WireJSON.decode(ErrorBody.self, from: response.body.readableBytesView)
                #expect(body.error == code, "\(uri): \(body)")
                #expect(!body.message.isEmpty)
            }
        }
    }

    @Test func thePageFilesAreServedFromTheBinary() async throws {
        try await withRouter { client in
            for (path, type, marker) in [
                ("/", "text/html; charset=utf-8", "<script src=\"/app.js\">"),
                ("/app.js", "text/javascript; charset=utf-8", "\"use strict\""),
                ("/style.css", "text/css; charset=utf-8", "{"),
            ] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType] == type, "\(path)")
                    #expect(String(buffer: response.body).contains(marker), "\(path)")
                }
            }
        }
    }
}
