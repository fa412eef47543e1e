import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A client of one Vigil server's HTTP API, on async-http-client.
///
/// Every call answers a typed record (`VigilAPI`) or throws a
/// `VigilClientError` that carries the server's error code and message.
///
/// ```swift
/// let vigil = try VigilClient(url: "http://127.0.0.1:8080")
/// for camera in try await vigil.cameras() { print(camera.id, camera.phase) }
/// let capture = try await vigil.takeCapture(camera: "booth")
/// let jpeg = try await vigil.captureImage(capture.id)
/// ```
public struct VigilClient: Sendable {
    /// `http://host:port` (or https), without a trailing slash.
    public let baseURL: String
    /// Longest answer read into memory (an image or a list).
    public var maxResponseBytes = 256 << 20
    /// Time allowed for one request.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// Sent as `Authorization: Bearer` with every request and socket
    /// (`vigil new-token`; nil for a server that runs open).
    public var token: String?
    let http: HTTPClient

    /// `url`: the server, e.g. `http://127.0.0.1:8080`.
    public init(url: String, token: String? = nil, httpClient: HTTPClient = .shared) throws {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://"), base.split(separator: "/").count >= 2 else {
            throw VigilClientError(status: nil, code: "bad_url", message: "not an http(s) URL: \(url)")
        }
        baseURL = base
        self.token = token
        http = httpClient
    }

    // MARK: - Cameras

    public func cameras() async throws -> [CameraState] {
        try await get(APIPath.cameras)
    }

    public func camera(_ id: String) async throws -> CameraState {
        try await get(APIPath.camera(id))
    }

    /// Sets the camera's desired state to running; answers its new state.
    @discardableResult
    public func start(_ camera: String) async throws -> CameraState {
        try decode(await request(.POST, APIPath.start(camera)))
    }

    @discardableResult
    public func stop(_ camera: String) async throws -> CameraState {
        try decode(await request(.POST, APIPath.stop(camera)))
    }

    /// Publishes one JPEG on a push camera.
    @discardableResult
    public func pushFrame(_ jpeg: ByteBuffer, to camera: String) async throws -> PushedFrame {
        try decode(await request(.POST, APIPath.frames(camera), body: jpeg))
    }

    /// The camera's newest frame, if it is fresh (`/cameras/{id}/snapshot.jpg`).
    public func snapshot(_ camera: String) async throws -> ByteBuffer {
        body(of: try await request(.GET, APIPath.snapshot(camera)))
    }

    // MARK: - Captures

    /// Queues a capture; answers it as `pending`.
    public func requestCapture(camera: String) async throws -> Capture {
        try decode(await request(.POST, APIPath.requestCapture(camera)))
    }

    public func capture(_ id: String) async throws -> Capture {
        try await get(APIPath.capture(id))
    }

    public func captures(camera: String? = nil, limit: Int = 20) async throws -> [Capture] {
        var query = [("limit", "\(limit)")]
        if let camera { query.append(("camera", camera)) }
        return try await get(APIPath.captures, query: query)
    }

    public func captureActivity(camera: String) async throws -> CaptureActivity {
        try await get(APIPath.captureStatus(camera))
    }

    /// Requests a capture and follows it until it is done or failed. A
    /// full queue (429) is waited out; all within `timeout`.
    public func takeCapture(camera: String, timeout: Duration = .seconds(120)) async throws -> Capture {
        let deadline = ContinuousClock.now + timeout
        var requested: Capture?
        while requested == nil {
            do {
                requested = try await requestCapture(camera: camera)
            } catch let error as VigilClientError where error.status == 429 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        return try await followCapture(requested!.id, until: deadline)
    }

    /// Polls a capture until it has ended.
    public func followCapture(_ id: String, until deadline: ContinuousClock.Instant) async throws -> Capture {
        while true {
            let capture = try await capture(id)
            if capture.isFinished { return capture }
            guard ContinuousClock.now < deadline else {
                throw VigilClientError(
                    status: nil, code: "timeout", message: "capture \(id) is still \(capture.status.rawValue)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The image of a done capture.
    public func captureImage(_ id: String) async throws -> ByteBuffer {
        body(of: try await request(.GET, APIPath.captureImage(id)))
    }

    // MARK: - Motion events and sessions

    /// Recorded motion events, newest first.
    public func motionEvents(camera: String? = nil, limit: Int = 50) async throws -> [MotionEvent] {
        var query = [("limit", "\(limit)")]
        if let camera { query.append(("camera", camera)) }
        return try await get(APIPath.motionEvents, query: query)
    }

    public func motionEvent(_ id: String) async throws -> MotionEvent {
        try await get(APIPath.motionEvent(id))
    }

    public func sessions(limit: Int = 50) async throws -> [Session] {
        try await get(APIPath.sessions, query: [("limit", "\(limit)")])
    }

    public func session(_ id: String) async throws -> Session {
        try await get(APIPath.session(id))
    }

    // MARK: - Requests

    /// The URL of `path` on this server, for `ws://` too.
    public func url(_ path: String, webSocket: Bool = false) -> String {
        guard webSocket else { return baseURL + path }
        if baseURL.hasPrefix("https://") { return "wss://" + baseURL.dropFirst(8) + path }
        return "ws://" + baseURL.dropFirst(7) + path
    }

    private func get<T: Decodable>(_ path: String, query: [(String, String)] = []) async throws -> T {
        try decode(await request(.GET, path, query: query))
    }

    private func request(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: ByteBuffer? = nil
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        var target = url(path)
        if !query.isEmpty {
            target += "?" + query.map { "\($0.0)=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: target)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "image/jpeg")
            request.body = .bytes(body)
        }
        let response = try await http.execute(request, timeout: requestTimeout)
        let bytes = try await response.body.collect(upTo: maxResponseBytes)
        guard (200..<300).contains(response.status.code) else {
            throw VigilClientError(status: Int(response.status.code), body: bytes)
        }
        return (response, bytes)
    }

    private func decode<T: Decodable>(_ answer: (HTTPClientResponse, ByteBuffer)) throws -> T {
        do {
            return try WireJSON.decode(T.self, from: answer.1.readableBytesView)
        } catch {
            throw VigilClientError(
                status: Int(answer.0.status.code), code: "bad_answer",
                message: "cannot read the server's answer as \(T.self): \(error)")
        }
    }

    private func body(of answer: (HTTPClientResponse, ByteBuffer)) -> ByteBuffer {
        answer.1
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// A request the server refused (its `ErrorBody`), or one that did not get
/// a readable answer.
public struct VigilClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status; nil when there was no answer.
    public var status: Int?
    /// The server's code (`unknown_camera`, `queue_full`, …) or the client's own.
    public var code: String
    public var message: String

    public init(status: Int?, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    init(status: Int, body: ByteBuffer) {
        if let error = try? WireJSON.decode(ErrorBody.self, from: body.readableBytesView) {
            self.init(status: status, code: error.error, message: error.message)
        } else {
            let text = String(buffer: body).prefix(200)
            self.init(status: status, code: "http_\(status)", message: text.isEmpty ? "HTTP \(status)" : String(text))
        }
    }

    public var description: String {
        "\(status.map { "\($0) " } ?? "")\(code): \(message)"
    }
}
