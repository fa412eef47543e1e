import ArgumentParser
import NIOCore
import VigilAPI
import VigilClient
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `vigil capture URL CAMERA`: takes a still through a running server, waits
/// for it, and downloads the image.
struct CaptureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Take a still with a camera of a running server and download it.",
        discussion: "Example: vigil capture http://127.0.0.1:8080 booth --out booth.jpg")

    @Argument(help: "The server's URL, e.g. http://127.0.0.1:8080")
    var url: String

    @Option(help: "An API token (Authorization: Bearer); default: $VIGIL_TOKEN.")
    var token: String?

    /// The token from `--token` or the environment.
    var credential: String? { token ?? ProcessInfo.processInfo.environment["VIGIL_TOKEN"] }

    @Argument(help: "The camera id.")
    var camera: String

    @Option(help: "Where to save the image (default: CAMERA-CAPTUREID.jpg).")
    var out: String?

    @Option(help: "Seconds to wait for the capture, including waiting for room in the queue.")
    var timeout: Double = 120

    func run() async throws {
        guard Identifier.isValid(camera, .camera) else {
            throw ValidationError("'\(camera)' is not a camera id (1-64 letters, digits, '_' or '-')")
        }
        let vigil = try VigilClient(url: url, token: credential)
        let start = ContinuousClock.now
        let capture: Capture
        let image: ByteBuffer
        do {
            capture = try await vigil.takeCapture(camera: camera, timeout: .milliseconds(Int64(timeout * 1000)))
            guard capture.status == .done else {
                throw CommandFailure("capture \(capture.id) failed: \(capture.error ?? "no reason given")")
            }
            image = try await vigil.captureImage(capture.id)
        } catch let error as VigilClientError {
            throw CommandFailure(error.description)
        }
        let path = out ?? "\(camera)-\(capture.id).jpg"
        do {
            try image.withUnsafeReadableBytes { try AtomicFile.write($0, to: path) }
        } catch {
            throw CommandFailure("cannot save \(path): \(error)")
        }
        let seconds = (ContinuousClock.now - start).seconds
        let size = "\(capture.width ?? 0)x\(capture.height ?? 0)"
        print("saved \(path) (\(image.readableBytes) bytes, \(size)) in \(fixed(seconds, 1)) s")
    }
}
