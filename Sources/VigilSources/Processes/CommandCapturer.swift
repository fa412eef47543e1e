import Logging
import VigilCore

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
        let argv = command.map { $0.replacing("{output}", with: path) }
        // The camera applies capture.timeout by cancelling this task.
        let failure = await ProcessCommand.run(argv, timeout: .seconds(86400 * 365), logger: logger) { _ in }
        try Task.checkCancellation()
        if let failure { throw CaptureError.failed(failure) }
    }
}
