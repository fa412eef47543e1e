import ArgumentParser
import NIOCore
import VigilCore
import VigilSources

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `vigil capture URL CAMERA`: takes a still through a running server, waits
/// for it, and downloads the image.
struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take a still with a camera of a running server and download it.",
        discussion: "Example: vigil capture http://127.0.0.1:8080 booth --out booth.jpg")

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8080")
    var url: String

    @Argument(help: "The camera id.")
    var camera: String

    @Option(help: "Where to save the image (default: CAMERA-CAPTUREID.jpg).")
    var out: String?

    @Option(help: "Seconds to wait for the capture, including waiting for room in the queue.")
    var timeout: Double = 120

    func run() async throws {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        guard ConfigLoader.isValidCameraID(camera) else {
            throw ValidationError("'\(camera)' is not a camera id (1-64 letters, digits, '_' or '-')")
        }
        let start = ContinuousClock.now
        let deadline = start + .seconds(timeout)
        // Request it; a full queue (429) is waited out.
        var id: String?
        while id == nil {
            let answer = try await SimpleHTTPClient.request(.POST, "\(base)/api/v1/cameras/\(camera)/captures")
            switch answer.status {
            case 202:
                id = answer.json?["id"] as? String
                if id == nil { throw Failed("unexpected answer: \(answer.text)") }
            case 429 where ContinuousClock.now < deadline:
                try await Task.sleep(for: .milliseconds(500))
            default:
                throw Failed(Self.explain(answer))
            }
        }
        guard let id else { return }
        StandardError.send("capture \(id) requested\n")
        // Follow it until it ends.
        var record: [String: Any] = [:]
        while true {
            let answer = try await SimpleHTTPClient.request(.GET, "\(base)/api/v1/captures/\(id)")
            guard answer.status == 200, let json = answer.json else { throw Failed(Self.explain(answer)) }
            record = json
            let status = record["status"] as? String
            if status == "done" || status == "failed" { break }
            guard ContinuousClock.now < deadline else {
                throw Failed("capture \(id) still \(status ?? "?") after \(Int(timeout)) s")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard record["status"] as? String == "done" else {
            throw Failed("capture \(id) failed: \(record["error"] as? String ?? "no reason given")")
        }
        let image = try await SimpleHTTPClient.request(
            .GET, "\(base)/api/v1/captures/\(id)/image.jpg", timeout: .seconds(60), maxBody: 256 << 20)
        guard image.status == 200 else { throw Failed(Self.explain(image)) }
        let path = out ?? "\(camera)-\(id).jpg"
        do {
            try image.body.withUnsafeReadableBytes { try AtomicFile.write($0, to: path) }
        } catch {
            throw Failed("cannot save \(path): \(error)")
        }
        let seconds = (ContinuousClock.now - start).seconds
        let size = "\(record["width"] as? Int ?? 0)x\(record["height"] as? Int ?? 0)"
        print("saved \(path) (\(image.body.readableBytes) bytes, \(size)) in \(fixed(seconds, 1)) s")
    }

    static func explain(_ answer: SimpleHTTPClient.Response) -> String {
        if let json = answer.json, let message = json["message"] as? String {
            return "\(answer.status) \(json["error"] as? String ?? ""): \(message)"
        }
        return "HTTP \(answer.status): \(answer.text.prefix(200))"
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
