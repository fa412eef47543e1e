/// Parses sizes written as a number of bytes or with a unit: `KB`, `MB`, `GB`
/// (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024).
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let trimmed = String(text.filter { $0 != " " && $0 != "_" })
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024), ("TiB", 1024 * 1024 * 1024 * 1024),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0,
                value * factor < 9e18
            else { return nil }
            return Int64((value * factor).rounded())
        }
        return Int64(trimmed).flatMap { $0 >= 0 ? $0 : nil }
    }
}
