import ArgumentParser
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import VigilAPI
import VigilCore
import VigilSources

/// One ingest session at full speed: frames/s, MB/s, server CPU and RSS.
struct IngestLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Ingest throughput of one session against a running server.")

    @Option(help: "Server URL, e.g. ws://127.0.0.1:8080")
    var url: String

    @Option(help: "Frames to send.")
    var frames = 5000

    @Option(help: "Frame size, WxH.")
    var size = "1280x720"

    @Option(help: "Server PID, for CPU and RSS from /proc.")
    var serverPid: Int32?

    func run() async throws {
        let parts = size.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2 else { throw ValidationError("--size must be WxH") }
        let renderer = try TestPatternRenderer(label: "ingest", width: parts[0], height: parts[1], quality: 80)
        let distinct = try (0..<30).map { try renderer.render(index: $0, noise: 14).buffer }
        let average = distinct.map(\.readableBytes).reduce(0, +) / distinct.count
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 1 << 20
        var logger = Logger(label: "vigil-load")
        logger.logLevel = .critical
        let total = frames
        let pid = serverPid
        let report = Mutex<(text: String, result: BenchResult)?>(nil)
        _ = try await WebSocketClient.connect(
            url: url + APIPath.ingestSocket, configuration: configuration, logger: logger
        ) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            try await outbound.write(.text(WireJSON.text(IngestRequest.start(.init()))))
            _ = try await messages.next()
            let rssBefore = pid.flatMap { ProcStat.memory(pid: $0)?.rss } ?? 0
            let cpuBefore = pid.flatMap { ProcStat.cpuSeconds(pid: $0) } ?? 0
            let start = ContinuousClock.now
            var bytes = 0
            var rssMid = 0
            for index in 0..<total {
                let frame = distinct[index % distinct.count]
                try await outbound.write(.binary(frame))
                bytes += frame.readableBytes
                if index == total / 10 { rssMid = pid.flatMap { ProcStat.memory(pid: $0)?.rss } ?? 0 }
            }
            try await outbound.write(.text(WireJSON.text(IngestRequest.end(frames: total))))
            while let message = try await messages.next() {
                if case .text(let text) = message, case .ended? = try? WireJSON.decode(IngestReply.self, from: text) {
                    break
                }
            }
            let seconds = (ContinuousClock.now - start).seconds
            let cpu = (pid.flatMap { ProcStat.cpuSeconds(pid: $0) } ?? 0) - cpuBefore
            let memory = pid.flatMap { ProcStat.memory(pid: $0) }
            report.withLock {
                let text = String(
                    format:
                        "ingest: %d frames of ~%d KB in %.2f s: %.0f frames/s, %.1f MB/s; server %.2f cores; RSS %.1f MB at start, %.1f MB at 10%%, %.1f MB at the end (peak %.1f MB)",
                    total, average / 1000, seconds, Double(total) / seconds, Double(bytes) / seconds / 1e6,
                    cpu / seconds, Double(rssBefore) / 1e6, Double(rssMid) / 1e6, Double(memory?.rss ?? 0) / 1e6,
                    Double(memory?.peak ?? 0) / 1e6)
                let result = BenchResult([
                    "frames_per_second": Double(total) / seconds, "cpu_cores": cpu / seconds,
                    "rss_start_mb": Double(rssBefore) / 1e6, "rss_end_mb": Double(memory?.rss ?? 0) / 1e6,
                    "rss_peak_mb": Double(memory?.peak ?? 0) / 1e6,
                ])
                $0 = (text, result)
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        guard let (text, result) = report.withLock({ $0 }) else {
            print("ingest: no result")
            throw ExitCode.failure
        }
        print(text)
        result.print()
    }
}
