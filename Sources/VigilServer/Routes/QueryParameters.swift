import Hummingbird
import VigilAPI
import VigilCore

/// The query parameters the list routes share, checked the same way
/// everywhere: a bad value is a 400 `bad_parameter` naming it.
extension Request {
    /// `?camera=ID`, nil when absent.
    func cameraFilter() throws -> String? {
        guard let raw = uri.queryParameters["camera"] else { return nil }
        guard Identifier.isValid(String(raw), .camera) else {
            throw APIError(.badRequest, "bad_parameter", "camera must be a camera id")
        }
        return String(raw)
    }

    /// `?limit=N` within `range`, `defaultValue` when absent.
    func limit(default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = uri.queryParameters["limit"] else { return defaultValue }
        guard let n = Int(raw), range.contains(n) else {
            throw APIError(
                .badRequest, "bad_parameter",
                "limit must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }
}
