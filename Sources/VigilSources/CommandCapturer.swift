import Logging
import Subprocess
import Synchronization
import VigilCore

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Takes a still by running `capture.command` with `{output}` replaced by
/// the file to write, e.g. `gphoto2 --capture-image-and-download --filename
/// {output}` or `rpicam-still -o {output}`.
///
/// The command runs in its own process group; cancelling (timeout, shutdown)
/// sends SIGTERM to the group, then SIGKILL after 2 s, and it is always
/// reaped. A failure reports the last line the command wrote to stderr.
public struct CommandCapturer: StillCapturer {
    public let command: [String]
    public let logger: Logger

    public init(command: [String], logger: Logger) {
        self.command = command
        self.logger = logger
    }

    public func capture(to path: String) async throws {
        let argv = command.map { $0.replacingOccurrences(of: "{output}", with: path) }
        let program = argv[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        let childPID = Mutex<pid_t>(0)
        let logger = self.logger
        let outcome: ExecutionResult<String?, SequenceOutput, SequenceOutput>
        do {
            outcome = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(argv.dropFirst())),
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .sequence
            ) { execution in
                childPID.withLock { $0 = execution.processIdentifier.value }
                async let drained: Void = Self.drain(execution.standardOutput)
                let lastLine = await Self.lastLine(of: execution.standardError, program: program, logger: logger)
                await drained
                return lastLine
            }
        } catch {
            throw CaptureError.failed("cannot run \(program): \(error)")
        }
        let pid = childPID.withLock { $0 }
        if pid > 0 { _ = kill(-pid, SIGKILL) }
        try Task.checkCancellation()
        let lastLine = outcome.closureResult.map { ": \($0)" } ?? ""
        switch outcome.terminationStatus {
        case .exited(0):
            return
        case .exited(let code):
            throw CaptureError.failed("\(program) exited with status \(code)\(lastLine)")
        case .signaled(let signal):
            throw CaptureError.failed("\(program) killed by signal \(signal)\(lastLine)")
        }
    }

    private static func drain(_ stream: SubprocessOutputSequence) async {
        do {
            for try await _ in stream {}
        } catch {}
    }

    /// Logs stderr (at most 20 lines) and returns its last non-empty line
    /// (at most 300 bytes); memory stays bounded whatever the command writes.
    private static func lastLine(of stream: SubprocessOutputSequence, program: String, logger: Logger) async
        -> String?
    {
        var line: [UInt8] = []
        var last: [UInt8] = []
        var logged = 0
        func endLine() {
            guard !line.isEmpty else { return }
            if logged < 20 {
                logger.notice("\(program): \(String(decoding: line, as: UTF8.self))")
                logged += 1
            }
            last = line
            line.removeAll(keepingCapacity: true)
        }
        do {
            for try await chunk in stream {
                chunk.withUnsafeBytes { bytes in
                    for byte in bytes {
                        if byte == 0x0A || byte == 0x0D {
                            endLine()
                        } else if line.count < 300 {
                            line.append(byte)
                        }
                    }
                }
            }
        } catch {}
        endLine()
        return last.isEmpty ? nil : String(decoding: last, as: UTF8.self)
    }
}
