import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import VigilCore
import VigilSources

#if canImport(Glibc)
    import Glibc
#endif

@main
struct VigilLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil-load",
        abstract: "Load and micro benchmarks for Vigil.",
        subcommands: [Fanout.self, Framing.self, IngestLoad.self, LoopbackLoad.self, MotionBench.self])
}

/// Opens N live viewers (MJPEG streams or live WebSockets) and reports fps,
/// latency, server CPU and memory.
struct Fanout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Live fan-out load against a running server.")

    @Option(
        help:
            "Viewer URL: http://127.0.0.1:8080/cameras/ID/stream.mjpg, ws://127.0.0.1:8080/cameras/ID/live or ws://127.0.0.1:8080/api/v1/live?cameras=ID"
    )
    var url: String

    @Option(help: "Number of clients.")
    var clients = 200

    @Option(help: "How many of them read slowly.")
    var slow = 0

    @Option(help: "Bytes per second a slow client reads.")
    var slowRate = 250_000

    @Option(help: "Seconds measured (after the warm-up).")
    var duration = 20.0

    @Option(help: "Seconds of warm-up, not measured.")
    var warmup = 3.0

    @Option(help: "Server PID, for CPU and RSS from /proc.")
    var serverPid: Int32?

    @Option(help: "Event-loop threads of the load tool.")
    var threads = 2

    /// One open client: its channel and how to read its counts on its loop.
    private struct Client {
        let channel: any Channel
        let isSlow: Bool
        let stats: @Sendable () -> ClientStats
    }

    func run() throws {
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port,
            ["http", "ws"].contains(parsed.scheme)
        else {
            throw ValidationError("--url must look like http://127.0.0.1:8080/cameras/ID/stream.mjpg or ws://…")
        }
        let isWebSocket = parsed.scheme == "ws"
        let path = parsed.query.map { "\(parsed.path)?\($0)" } ?? parsed.path
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        let start = Date().timeIntervalSince1970
        let countFrom = start + warmup
        func open(isSlow: Bool, handler: some ChannelHandler & Sendable) throws -> any Channel {
            var bootstrap = ClientBootstrap(group: group).connectTimeout(.seconds(5))
            if isSlow {
                bootstrap =
                    bootstrap
                    .channelOption(.autoRead, value: false)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
                    // One 4 KiB read per tick: NIO reads up to 4 times per
                    // `read()` by default, which would quadruple the rate.
                    .channelOption(.maxMessagesPerRead, value: 1)
                    .channelOption(.socketOption(.so_rcvbuf), value: 65536)
            }
            let rate = slowRate
            return try bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if isSlow {
                        try channel.pipeline.syncOperations.addHandler(ThrottledReader(bytesPerSecond: rate))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }.connect(host: host, port: port).wait()
        }
        var clientsOpen: [Client] = []
        for index in 0..<clients {
            let isSlow = index < slow
            if isWebSocket {
                let handler = WebSocketLoadHandler(
                    host: host, path: path, tagged: parsed.path == "/api/v1/live", countFrom: countFrom)
                let channel = try open(isSlow: isSlow, handler: handler)
                clientsOpen.append(Client(channel: channel, isSlow: isSlow) { handler.stats })
            } else {
                let handler = MJPEGLoadHandler(host: host, path: path, countFrom: countFrom)
                let channel = try open(isSlow: isSlow, handler: handler)
                clientsOpen.append(Client(channel: channel, isSlow: isSlow) { handler.stats })
            }
        }
        let opened = Date().timeIntervalSince1970
        let sleepUntilStart = countFrom - Date().timeIntervalSince1970
        if sleepUntilStart > 0 { usleep(useconds_t(sleepUntilStart * 1e6)) }
        let cpuStart = serverPid.flatMap(ProcStat.cpuSeconds)
        let rssStart = serverPid.flatMap(ProcStat.memory)?.rss
        let wallStart = Date().timeIntervalSince1970
        usleep(useconds_t(duration * 1e6))
        let cpuEnd = serverPid.flatMap(ProcStat.cpuSeconds)
        let wallEnd = Date().timeIntervalSince1970
        var results: [(ClientStats, Bool)] = []
        for client in clientsOpen {
            let stats = try client.channel.eventLoop.submit(client.stats).wait()
            results.append((stats, client.isSlow))
            client.channel.close(promise: nil)
        }
        let window = wallEnd - wallStart
        report(
            results: results, window: window, connectSeconds: opened - start,
            cpu: cpuStart.flatMap { s in cpuEnd.map { ($0 - s) / window } }, rssStart: rssStart)
    }

    func report(
        results: [(ClientStats, Bool)], window: Double, connectSeconds: Double, cpu: Double?, rssStart: Int?
    ) {
        func fps(_ stats: ClientStats) -> Double { Double(stats.frames) / window }
        var result = BenchResult()
        let fast = results.filter { !$0.1 }.map(\.0)
        let slowOnes = results.filter { $0.1 }.map(\.0)
        let errors = results.compactMap { $0.0.error }
        print(
            "clients: \(results.count) (\(slowOnes.count) slow at \(slowRate) B/s), measured \(String(format: "%.1f", window)) s, connected in \(String(format: "%.2f", connectSeconds)) s"
        )
        for (name, group) in [("fast", fast), ("slow", slowOnes)] where !group.isEmpty {
            let rates = group.map(fps).sorted()
            let latencies = group.flatMap(\.latencies).sorted()
            print(
                String(
                    format: "%@ clients: fps median %.2f min %.2f | latency p50 %.1f ms p99 %.1f ms max %.1f ms",
                    name, percentile(rates, 0.5), rates.first ?? 0,
                    percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000,
                    (latencies.last ?? 0) * 1000))
            result["\(name)_fps_median"] = percentile(rates, 0.5)
            result["\(name)_fps_min"] = rates.first ?? 0
            result["\(name)_p50_ms"] = percentile(latencies, 0.5) * 1000
            result["\(name)_p99_ms"] = percentile(latencies, 0.99) * 1000
        }
        if let cpu {
            print(String(format: "server cpu: %.3f cores", cpu))
            result["cpu_cores"] = cpu
        }
        if let pid = serverPid, let memory = ProcStat.memory(pid: pid) {
            print(
                String(
                    format: "server rss: %.1f MB at window start, %.1f MB at end, %.1f MB peak",
                    Double(rssStart ?? 0) / 1e6, Double(memory.rss) / 1e6, Double(memory.peak) / 1e6))
            result["rss_peak_mb"] = Double(memory.peak) / 1e6
        }
        if !errors.isEmpty {
            print("errors: \(errors.count): \(Set(errors).prefix(3).joined(separator: "; "))")
        }
        result["errors"] = Double(errors.count)
        result.print()
    }

    func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))
        return sorted[index]
    }
}

/// Throughput of the JPEG framing parser on one core.
struct Framing: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "JPEG framing parser throughput.")

    @Option(help: "Bytes parsed per run.")
    var megabytes = 2048

    @Option(help: "Runs; the median is reported.")
    var runs = 5

    @Option(help: "Bytes per read, like a pipe.")
    var chunk = 65536

    func run() throws {
        let renderer = try TestPatternRenderer(label: "bench", width: 1280, height: 720, quality: 85)
        var stream: [UInt8] = []
        for index in 0..<30 {
            let jpeg = try renderer.render(index: index, noise: 14)
            stream += jpeg.buffer.getBytes(at: jpeg.buffer.readerIndex, length: jpeg.buffer.readableBytes)!
        }
        let repeats = max(1, megabytes * 1_000_000 / stream.count)
        var rates: [Double] = []
        for _ in 0..<runs {
            var parser = JPEGFrameParser()
            var frames = 0
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                stream.withUnsafeBytes { bytes in
                    for _ in 0..<repeats {
                        var offset = 0
                        while offset < bytes.count {
                            let end = min(offset + chunk, bytes.count)
                            parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { _ in frames += 1 }
                            offset = end
                        }
                    }
                }
            }
            precondition(frames == 30 * repeats, "parser lost frames: \(frames)")
            rates.append(Double(stream.count * repeats) / elapsed.seconds / 1e9)
        }
        rates.sort()
        print(
            String(
                format:
                    "framing: %.2f GB/s median (min %.2f, max %.2f) over %d runs of %d MB, %d KB frames, %d B reads",
                rates[rates.count / 2], rates.first!, rates.last!, runs, stream.count * repeats / 1_000_000,
                stream.count / 30 / 1000, chunk))
        BenchResult(["gb_per_second": rates[rates.count / 2]]).print()
    }
}

enum ProcStat {
    /// utime + stime of `pid` in seconds.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func memory(pid: Int32) -> (rss: Int, peak: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var rss = 0
        var peak = 0
        for line in status.split(separator: "\n") {
            let value = (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
            if line.hasPrefix("VmRSS:") { rss = value }
            if line.hasPrefix("VmHWM:") { peak = value }
        }
        return (rss, peak)
    }
}
