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

/// Runs a command to completion (a capture command, the ingest
/// `process_command`): own process group, killed (SIGTERM, then SIGKILL) at
/// the timeout or on cancellation, always reaped. Its stdout lines go to
/// `onLine`, the first 20 stderr lines to the log; a failure carries the last
/// stderr line. Lines are cut at 500 bytes, so memory stays bounded.
public enum ProcessCommand {
    /// Runs `argv`; `onLine` gets each stdout line. Returns nil on exit 0,
    /// else why it failed (with stderr's last line).
    /// `input`, if given, is written to its stdin (then closed).
    public static func run(
        _ argv: [String], timeout: Duration, input: String? = nil, logger: Logger,
        onLine: @escaping @Sendable (String) -> Void
    ) async -> String? {
        let program = argv[0]
        let outcome = await withTimeout(timeout) {
            await execute(argv, timeout: timeout, input: input, logger: logger, onLine: onLine)
        }
        switch outcome {
        case .finished(let failure): return failure
        case .timedOut: return "timeout: \(program) did not finish within \(timeout)"
        case .cancelled: return "\(program) was stopped: the server is shutting down"
        }
    }

    private static func execute(
        _ argv: [String], timeout: Duration, input: String?, logger: Logger,
        onLine: @escaping @Sendable (String) -> Void
    ) async -> String? {
        let program = argv[0]
        let executable: Executable = program.contains("/" as Character) ? .path(FilePath(program)) : .name(program)
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
        let childPID = Mutex<pid_t>(0)
        let outcome: ExecutionResult<String?, SequenceOutput, SequenceOutput>
        let body: @Sendable (pid_t, SubprocessOutputSequence, SubprocessOutputSequence) async -> String? = {
            pid, standardOutput, standardError in
            childPID.withLock { $0 = pid }
            async let stdout: Void = lines(of: standardOutput) { onLine($0) }
            var last: String?
            var logged = 0
            await lines(of: standardError) { line in
                if logged < 20 {
                    logger.notice("\(program): \(line)")
                    logged += 1
                }
                last = line
            }
            await stdout
            return last
        }
        do {
            if let input {
                outcome = try await Subprocess.run(
                    executable, arguments: Arguments(Array(argv.dropFirst())), platformOptions: options,
                    input: .array(Array(input.utf8)), output: .sequence, error: .sequence
                ) { execution in
                    await body(execution.processIdentifier.value, execution.standardOutput, execution.standardError)
                }
            } else {
                outcome = try await Subprocess.run(
                    executable, arguments: Arguments(Array(argv.dropFirst())), platformOptions: options,
                    input: .none, output: .sequence, error: .sequence
                ) { execution in
                    await body(execution.processIdentifier.value, execution.standardOutput, execution.standardError)
                }
            }
        } catch {
            return "cannot run \(program): \(error)"
        }
        let pid = childPID.withLock { $0 }
        if pid > 0 { _ = kill(-pid, SIGKILL) }
        if Task.isCancelled { return "\(program) was stopped before it finished" }
        let last = outcome.closureResult.map { ": \($0)" } ?? ""
        switch outcome.terminationStatus {
        case .exited(0): return nil
        case .exited(let code): return "\(program) exited with status \(code)\(last)"
        case .signaled(let signal): return "\(program) killed by signal \(signal)\(last)"
        }
    }

    private static func lines(of stream: SubprocessOutputSequence, _ body: (String) -> Void) async {
        var line: [UInt8] = []
        do {
            for try await chunk in stream {
                chunk.withUnsafeBytes { bytes in
                    for byte in bytes {
                        if byte == 0x0A {
                            if !line.isEmpty { body(String(decoding: line, as: UTF8.self)) }
                            line.removeAll(keepingCapacity: true)
                        } else if byte != 0x0D, line.count < 500 {
                            line.append(byte)
                        }
                    }
                }
            }
        } catch {}
        if !line.isEmpty { body(String(decoding: line, as: UTF8.self)) }
    }
}
