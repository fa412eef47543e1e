/// A route's path such as `/cameras/{id}/live`: fixed segments, and `{name}`
/// segments that match any one segment.
public struct PathPattern: Sendable, CustomStringConvertible {
    public let segments: [String]
    public let description: String

    public init(_ path: String) {
        description = path
        segments = path.split(separator: "/").map(String.init)
    }

    /// The `{name}` values when `path` (without its query) matches.
    public func match(_ path: some StringProtocol) -> [String: String]? {
        let actual = path.split(separator: "/", omittingEmptySubsequences: true)
        guard segments.count == actual.count else { return nil }
        var parameters: [String: String] = [:]
        for (expected, segment) in zip(segments, actual) {
            if expected.hasPrefix("{") && expected.hasSuffix("}") {
                parameters[String(expected.dropFirst().dropLast())] = String(segment)
            } else if expected != segment {
                return nil
            }
        }
        return parameters
    }
}
