import NIOCore
import VigilAPI
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

// libFuzzer harnesses for everything that reads bytes from outside: the JPEG
// framing parser (camera pipes, HTTP bodies, pushed frames), the config
// file (YAML and its sections), every socket message decoder, and the path,
// id, time, duration and size parsing of requests and config values.
// `make fuzz` builds this with `-sanitize=fuzzer,address` and runs each
// target, chosen by VIGIL_FUZZ_TARGET, for a bounded time.

/// The target this process fuzzes, read once.
private let target: String = {
    guard let raw = getenv("VIGIL_FUZZ_TARGET") else { return "jpeg" }
    return String(cString: raw)
}()

/// Patterns of the routes the server matches request paths against.
private let patterns = [
    "/cameras/{id}/stream.mjpg", "/api/v1/cameras/{id}/captures", "/api/v1/events/{id}/clip.mjpg", "/api/v1/live",
].map(PathPattern.init)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    switch target {
    case "jpeg": fuzzJPEG(bytes)
    case "config": fuzzConfig(bytes)
    case "messages": fuzzMessages(bytes)
    case "parameters": fuzzParameters(bytes)
    default:
        StandardError.send("VIGIL_FUZZ_TARGET must be jpeg, config, messages or parameters\n")
        exit(2)
    }
    return 0
}

/// The framing parser fed the input in chunks whose sizes come from the
/// input's first byte (pipes deliver any split), then as one pushed frame.
private func fuzzJPEG(_ bytes: UnsafeRawBufferPointer) {
    guard let first = bytes.first else { return }
    let chunk = Int(first) * 37 + 1
    var parser = JPEGFrameParser(maxFrameBytes: 64 * 1024)
    var offset = 1
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { frame in
            precondition(frame.buffer.readableBytes <= 64 * 1024, "a frame over the limit was emitted")
            precondition(frame.buffer.readableBytesView.starts(with: [0xFF, 0xD8]), "a frame without SOI")
        }
        offset = end
    }
    if let single = JPEGFrameParser.single(ByteBuffer(bytes: bytes), maxFrameBytes: 64 * 1024) {
        precondition(single.buffer.readableBytesView.last == 0xD9, "a single frame without EOI")
    }
}

private func fuzzConfig(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? YAMLReader.parse(text)
    _ = try? ConfigLoader.parse(text)
}

private func fuzzMessages(_ bytes: UnsafeRawBufferPointer) {
    _ = try? ClientMessage.decode(bytes)
    _ = try? IngestRequest.decode(bytes)
    _ = try? WireJSON.decode(ServerMessage.self, from: bytes)
    _ = try? WireJSON.decode(IngestReply.self, from: bytes)
    _ = try? WireJSON.decode(LoginRequest.self, from: bytes)
}

private func fuzzParameters(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    for pattern in patterns { _ = pattern.match(text) }
    for kind in [Identifier.Kind.camera, .record, .fileName] { _ = Identifier.isValid(text, kind) }
    _ = ISO8601.date(text)
    _ = DurationParser.parse(text)
    _ = ByteSize.parse(text)
}

#if !FUZZING
    /// Without `make fuzz` (which defines FUZZING and links libFuzzer's own
    /// `main`), the harness only says how to run it.
    @main
    enum FuzzUsage {
        static func main() {
            StandardError.send("vigil-fuzz is built by `make fuzz` (-sanitize=fuzzer,address -DFUZZING)\n")
            exit(2)
        }
    }
#endif

#if FUZZING
    /// libFuzzer's entry point for a program that has its own `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's `main` to `<module>_main`: hand over to libFuzzer.
    @_cdecl("vigil_fuzz_main")
    func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, fuzz)
    }
#endif
