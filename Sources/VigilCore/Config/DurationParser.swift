/// Parses durations written as "500ms", "5s", "2m", "1h" or a number of seconds.
/// Durations are whole milliseconds; more than about 285,000 years is no
/// duration (a number that large would not fit, and means a mistake).
public enum DurationParser {
    static let maxMilliseconds = 9e15

    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number) else { return nil }
            return milliseconds(value * factor * 1000)
        }
        return Double(trimmed).flatMap { milliseconds($0 * 1000) }
    }

    private static func milliseconds(_ value: Double) -> Duration? {
        guard value.isFinite, value >= 0, value < maxMilliseconds else { return nil }
        return .milliseconds(Int64(value.rounded()))
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(self).trimmingCharacters(in: set)
    }
}

extension Set where Element == Character {
    fileprivate static var whitespaces: Set<Character> { [" ", "\t"] }
}
