import Logging
import NIOCore
import NIOPosix
import Subprocess
import Synchronization
import VigilCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// `kind: exec`: a child process writing MJPEG (concatenated JPEGs) to stdout,
/// such as `rpicam-vid --codec mjpeg -o -` or `ffmpeg ... -f mjpeg -`.
///
/// The child runs in its own process group. When the attempt ends (the
/// calling task is cancelled) the group gets SIGTERM, then SIGKILL after
/// `stop_grace`; the child is always reaped, and anything left in its group
/// after it exited is killed. Its stderr goes to the log, rate-limited.
public struct ExecSource: FrameSource {
    public let context: SourceContext
    public let config: ExecConfig

    public init(context: SourceContext, config: ExecConfig) {
        self.context = context
        self.config = config
    }

    private var logger: Logger { context.logger }
    private var maxFrameBytes: Int { context.maxFrameBytes }

    public func run(into sink: FrameSink) async throws {
        let program = config.command[0]
        let executable: Executable = program.contains("/" as Character) ? .path(FilePath(program)) : .name(program)
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: config.stopGrace)
        ]
        let logger = self.logger
        let maxFrameBytes = self.maxFrameBytes
        let childPID = Mutex<pid_t>(0)
        // stdout is a pipe read on a NIO event loop: each read lands in a
        // ByteBuffer and goes straight to the parser, with no thread hop per
        // read. The pipe is enlarged so a whole frame fits: one wake-up per
        // frame instead of several.
        // (Subprocess closes every descriptor above 2 in its children, so
        // setting close-on-exec after pipe() leaks nothing.)
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw SourceEnded("cannot create a pipe for \(program): \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ (Linux)
        _ = fcntl(ends[0], setPipeSize, 1 << 20)
        let channel: any Channel
        let reader = PipeFrameReader(maxFrameBytes: maxFrameBytes, sink: sink)
        do {
            channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in channel.pipeline.addHandler(reader) }
                .takingOwnershipOfDescriptor(input: ends[0]).get()
        } catch {
            close(ends[0])
            close(ends[1])
            throw SourceEnded("cannot read the pipe of \(program): \(error)")
        }
        let outcome: ExecutionResult<Void, FileDescriptorOutput, SequenceOutput>
        do {
            outcome = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(config.command.dropFirst())),
                platformOptions: options,
                input: .none,
                output: .fileDescriptor(FileDescriptor(rawValue: ends[1]), closeAfterSpawningProcess: true),
                error: .sequence
            ) { execution in
                let pid = execution.processIdentifier.value
                childPID.withLock { $0 = pid }
                logger.info("started \(program) (pid \(pid))")
                let stderr = execution.standardError
                async let logged: Void = Self.logStandardError(stderr, program: program, logger: logger)
                // Until the child (and whatever inherited its stdout) closes it,
                // or the attempt is cancelled.
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                await logged
            }
        } catch {
            try? await channel.close()
            throw SourceEnded("cannot run \(program): \(error)")
        }
        // Closed and its descriptor released before the attempt counts as over.
        try? await channel.close()
        // Reap what the child left behind in its group (a shell's children).
        let pid = childPID.withLock { $0 }
        if pid > 0 { _ = kill(-pid, SIGKILL) }
        let statistics = reader.statistics
        let stats =
            "frames \(statistics.frames), truncated \(statistics.truncated), oversize \(statistics.oversize), skipped bytes \(statistics.skippedBytes)"
        switch outcome.terminationStatus {
        case .exited(let code):
            throw SourceEnded("\(program) exited with status \(code) (\(stats))", exited: true)
        case .signaled(let signal):
            throw SourceEnded("\(program) killed by signal \(signal) (\(stats))", exited: true)
        }
    }

    /// Logs the child's stderr line by line: at most `burst` lines per
    /// 10 seconds, then a count of what was suppressed. Lines are cut at 500
    /// bytes; memory is bounded whatever the child writes.
    static func logStandardError(_ stream: SubprocessOutputSequence, program: String, logger: Logger) async {
        let burst = 20
        let window = Duration.seconds(10)
        var windowStart = ContinuousClock.now
        var linesInWindow = 0
        var suppressed = 0
        var line: [UInt8] = []
        func emit() {
            defer { line.removeAll(keepingCapacity: true) }
            guard !line.isEmpty else { return }
            let now = ContinuousClock.now
            if now - windowStart > window {
                if suppressed > 0 {
                    logger.warning("\(program) stderr: \(suppressed) more lines suppressed")
                }
                windowStart = now
                linesInWindow = 0
                suppressed = 0
            }
            if linesInWindow < burst {
                linesInWindow += 1
                logger.notice("\(program): \(String(decoding: line, as: UTF8.self))")
            } else {
                suppressed += 1
            }
        }
        do {
            for try await chunk in stream {
                chunk.withUnsafeBytes { bytes in
                    for byte in bytes {
                        if byte == 0x0A || byte == 0x0D {
                            emit()
                        } else if line.count < 500 {
                            line.append(byte)
                        }
                    }
                }
            }
        } catch {}
        emit()
        if suppressed > 0 {
            logger.warning("\(program) stderr: \(suppressed) more lines suppressed")
        }
    }
}

/// Feeds the bytes read from a camera's stdout to the framing parser, on the
/// pipe channel's event loop.
final class PipeFrameReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let parser: Mutex<JPEGFrameParser>
    private let sink: FrameSink

    init(maxFrameBytes: Int, sink: FrameSink) {
        self.parser = Mutex(JPEGFrameParser(maxFrameBytes: maxFrameBytes))
        self.sink = sink
    }

    var statistics: JPEGFrameParser.Statistics { parser.withLock { $0.statistics } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let sink = self.sink
        parser.withLock { parser in
            buffer.withUnsafeReadableBytes { bytes in
                parser.feed(bytes) { _ = sink.deliver($0) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
