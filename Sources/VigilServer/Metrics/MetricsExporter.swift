import NIOCore
import Prometheus
import Synchronization
import VigilAPI
import VigilCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `GET /metrics`: the Prometheus text format, through swift-prometheus.
///
/// Most figures are counted by the parts that already count them (frames
/// and bytes a hub published, frames sent to and dropped for viewers,
/// restarts by reason, motion analysis) and carried over at each scrape as
/// the increase since the last one, so the hot paths pay nothing more. The
/// rest is read at each scrape (viewers, phases, age of the last frame,
/// process memory, descriptors, children) or taken from the change feed as
/// events go by (motion events, captures, sessions). Every series has its
/// help text (`promtool check metrics` insists), which is why the camera
/// counts into `CameraStatistics` rather than through swift-metrics, whose
/// API has no help text.
final class MetricsExporter: FeedSubscriber, Sendable {
    let registry: PrometheusCollectorRegistry
    private let cameras: CameraRegistry
    private let startedAt = ContinuousClock.now
    private let startedAtWall = Date()
    /// The last value carried over to each mirrored counter.
    private let carried = Mutex<[String: Int]>([:])

    /// Buckets of the capture and recovery histograms.
    static let durationBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .milliseconds(2500),
        .seconds(3), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    init(registry: PrometheusCollectorRegistry, cameras: CameraRegistry) {
        self.registry = registry
        self.cameras = cameras
        // Every camera's series exist from the start (0, not missing), so a
        // counter that never moves shows as flat.
        for camera in cameras.cameras {
            for reason in CameraStatistics.RestartReason.allCases {
                _ = counter(.restarts, [("camera", camera.id), ("reason", reason.rawValue)])
            }
            for status in ["done", "failed"] {
                _ = counter(.captures, [("camera", camera.id), ("status", status)])
            }
            _ = counter(.motionEvents, [("camera", camera.id)])
        }
        for metric in [VigilMetric.ingestSessions, .ingestFrames, .ingestBytes] { _ = counter(metric, []) }
    }

    /// The text a scrape answers.
    func render() async -> ByteBuffer {
        await refresh()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32 * 1024)
        registry.emit(into: &bytes)
        return ByteBuffer(bytes: bytes)
    }

    // MARK: - Read at each scrape

    private func refresh() async {
        for camera in cameras.cameras {
            let id = camera.id
            let state = await camera.state()
            let published = camera.hub.published
            let traffic = camera.hub.traffic
            carry(.framesReceived, [("camera", id)], to: published.frames)
            carry(.bytesReceived, [("camera", id)], to: published.bytes)
            carry(.framesSent, [("camera", id)], to: traffic.framesSent)
            carry(.framesDropped, [("camera", id)], to: traffic.framesDropped)
            for reason in CameraStatistics.RestartReason.allCases {
                carry(
                    .restarts, [("camera", id), ("reason", reason.rawValue)], to: camera.statistics.restarts(reason))
            }
            let recoveries = camera.statistics.takeRecoveries()
            let histogram = registry.makeDurationHistogram(
                descriptor: VigilMetric.recovery.descriptor, labels: [("camera", id)], buckets: Self.durationBuckets)
            for duration in recoveries.durations { histogram.record(duration) }
            for kind in ViewerTraffic.Kind.allCases {
                gauge(.viewers, [("camera", id), ("kind", kind.rawValue)]).set(Double(traffic.viewers(kind)))
            }
            for phase in CameraPhase.allCases {
                gauge(.phase, [("camera", id), ("phase", phase.rawValue)]).set(state.phase == phase ? 1.0 : 0.0)
            }
            // No frame yet: as old as the server.
            let age = camera.hub.latest?.age ?? (ContinuousClock.now - startedAt)
            gauge(.lastFrameAge, [("camera", id)]).set(age.seconds)
        }
        for monitor in cameras.monitors {
            let stats = monitor.stats
            carry(.motionAnalysed, [("camera", monitor.camera)], to: stats.analysed)
            carry(.motionSkipped, [("camera", monitor.camera)], to: stats.skipped)
        }
        let process = ProcessFigures.read()
        gauge(.residentMemory, []).set(Double(process.residentBytes))
        gauge(.openDescriptors, []).set(Double(process.openDescriptors))
        gauge(.children, []).set(Double(process.children))
        gauge(.uptime, []).set((ContinuousClock.now - startedAt).seconds)
        gauge(.startTime, []).set(startedAtWall.timeIntervalSince1970)
    }

    /// Adds to a counter what its source counted since the last scrape.
    private func carry(_ metric: VigilMetric, _ labels: [(String, String)], to total: Int) {
        let key = ([metric.name] + labels.map(\.1)).joined(separator: "\u{0}")
        let increase = carried.withLock { carried -> Int in
            let increase = total - (carried[key] ?? 0)
            carried[key] = total
            return increase
        }
        let counter = counter(metric, labels)
        if increase > 0 { counter.increment(by: Int64(increase)) }
    }

    private func counter(_ metric: VigilMetric, _ labels: [(String, String)]) -> Prometheus.Counter {
        registry.makeCounter(descriptor: metric.descriptor, labels: labels)
    }

    private func gauge(_ metric: VigilMetric, _ labels: [(String, String)]) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: metric.descriptor, labels: labels)
    }

    // MARK: - From the change feed

    /// Counts events as they go by; called with the feed's lock held.
    func deliver(_ event: FeedMessage) {
        // Counted where they happened: another node's events are in its own /metrics.
        guard event.origin == nil else { return }
        switch event.message {
        case .motion(let change) where change.kind == .started:
            counter(.motionEvents, [("camera", change.camera)]).increment()
        case .capture(let change) where change.kind != .started:
            let status = change.kind == .done ? "done" : "failed"
            counter(.captures, [("camera", change.camera), ("status", status)]).increment()
            if let milliseconds = change.record.durationMs {
                registry.makeDurationHistogram(
                    descriptor: VigilMetric.captureDuration.descriptor, labels: [("camera", change.camera)],
                    buckets: Self.durationBuckets
                ).record(.milliseconds(milliseconds))
            }
        case .session(let change) where change.kind == .started:
            counter(.ingestSessions, []).increment()
        case .session(let change) where change.kind == .ended || change.kind == .interrupted:
            // What this connection of the session brought: its totals minus
            // what an earlier, interrupted connection already counted.
            let key = "ingest\u{0}" + change.change.sessionID
            let (frames, bytes) = carried.withLock { carried -> (Int, Int) in
                let frames = change.change.frames - (carried[key + "\u{0}frames"] ?? 0)
                let bytes = Int(change.change.bytes) - (carried[key + "\u{0}bytes"] ?? 0)
                carried[key + "\u{0}frames"] = change.kind == .ended ? nil : change.change.frames
                carried[key + "\u{0}bytes"] = change.kind == .ended ? nil : Int(change.change.bytes)
                return (frames, bytes)
            }
            if frames > 0 { counter(.ingestFrames, []).increment(by: Int64(frames)) }
            if bytes > 0 { counter(.ingestBytes, []).increment(by: Int64(bytes)) }
        default:
            break
        }
    }

    func finishFeed() {}
}

/// The process's own figures, from `/proc`.
struct ProcessFigures {
    var residentBytes = 0
    var openDescriptors = 0
    var children = 0

    static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
            let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        {
            figures.residentBytes = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        figures.openDescriptors =
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me,
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After "(comm)": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == me { figures.children += 1 }
        }
        return figures
    }
}
