#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// ISO 8601 timestamps as the API writes them (UTC, milliseconds).
public enum ISO8601 {
    public static func string(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().timeZone(separator: .omitted).time(includingFractionalSeconds: true)
                .timeSeparator(.colon).dateSeparator(.dash))
    }

    /// `seconds` since 1970 as ISO 8601; nil stays nil.
    public static func string(seconds: Double?) -> String? {
        seconds.map { string(Date(timeIntervalSince1970: $0)) }
    }

    /// Parses `2026-11-21T10:31:12Z` (fractional seconds and offsets allowed).
    public static func date(_ text: String) -> Date? {
        if let date = try? Date(
            text,
            strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)
                .timeZone(separator: .omitted).timeSeparator(.colon).dateSeparator(.dash))
        {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }
}
