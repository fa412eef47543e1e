import ArgumentParser
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "A camera live-view server that keeps working for weeks.",
        subcommands: [
            Serve.self, CheckConfig.self, FakeCamera.self, CaptureCommand.self, Push.self, HashPassword.self,
            NewToken.self, Watch.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// Logging to stderr; the level comes from `--log-level` or `VIGIL_LOG_LEVEL`.
enum LogSetup {
    static func bootstrap(level: String?) -> Logger {
        let raw = level ?? ProcessInfo.processInfo.environment["VIGIL_LOG_LEVEL"] ?? "info"
        let parsed = Logger.Level(rawValue: raw.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
        return Logger(label: "vigil")
    }
}
