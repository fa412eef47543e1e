import ArgumentParser
import VigilCore
import VigilServer

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server (the default command).")

    @Option(help: "Config file (default: ./vigil.yml if present, else one test-pattern camera 'demo').")
    var config: String?

    @Option(help: "Address to listen on (overrides server.host).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (overrides server.port).")
    var port: Int?

    @Option(help: "Directory for the database and files (overrides server.data_dir).")
    var dataDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        let logger = LogSetup.bootstrap(level: logLevel)
        var settings: VigilConfig
        let path = config ?? (FileManager.default.fileExists(atPath: "vigil.yml") ? "vigil.yml" : nil)
        if let path {
            do {
                settings = try ConfigLoader.load(path: path)
            } catch let errors as ConfigErrors {
                for issue in errors.issues { logger.error("\(path): \(issue)") }
                throw ExitCode(2)
            }
            logger.info("config \(path)")
        } else {
            settings = .demo
            logger.info("no config file: one test-pattern camera 'demo'")
        }
        if let host { settings.server.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            settings.server.port = port
        }
        if let dataDir { settings.server.dataDir = dataDir }
        try await VigilServer(config: settings, logger: logger).run()
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a config file and report every mistake.")

    @Argument(help: "The config file.")
    var file: String = "vigil.yml"

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: file)
            let names = config.cameras.map { "\($0.id) (\($0.source.kind))" }.joined(separator: ", ")
            print("\(file): ok, \(config.cameras.count) camera(s): \(names)")
        } catch let errors as ConfigErrors {
            var stderr = StandardError()
            for issue in errors.issues {
                print("\(file): \(issue)", to: &stderr)
            }
            throw ExitCode(1)
        }
    }
}
