import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One mistake in a config file: where it is and what is wrong.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path, e.g. `cameras.porch.stale_after`.
    public var path: String
    public var message: String

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// All the mistakes found in a config file.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads `vigil.yml`. Unknown keys are errors; every mistake is reported at once.
public enum ConfigLoader {
    public static func load(path: String) throws -> VigilConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            // The errno text (localizedDescription needs swift-corelibs-foundation and ICU).
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            let reason = fd < 0 ? String(cString: strerror(errno)) : "not UTF-8 text (\(error))"
            if fd >= 0 { close(fd) }
            throw ConfigErrors(issues: [
                ConfigIssue(path: "", message: "cannot read \(path): \(reason)")
            ])
        }
        return try parse(text)
    }

    public static func parse(_ text: String) throws -> VigilConfig {
        let root: YAMLNode?
        do {
            root = try YAMLReader.parse(text)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(path: "", message: "not valid YAML: \(error)")])
        }
        var reader = ConfigReader()
        let config = reader.readConfig(root)
        if !reader.issues.isEmpty { throw ConfigErrors(issues: reader.issues) }
        return config
    }
}
