import SystemPackage

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Small replacements for the swift-corelibs-foundation APIs (NSString path
// methods, String(format:), CharacterSet,
// FileHandle) that Vigil used. On Linux those live in `Foundation` proper,
// which is built on CoreFoundation and ICU: one reference to any of them puts
// about 40 MB of code and ICU data into the static release binary.
// Everything here needs only FoundationEssentials and the standard library.

/// Path strings joined and split like NSString's path methods.
public enum Path {
    /// `dir/name` (NSString.appendingPathComponent).
    public static func join(_ dir: String, _ name: String) -> String {
        if dir.isEmpty { return name }
        if name.isEmpty { return dir }
        let head = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        let tail = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return head + "/" + tail
    }

    /// The path without its last component (NSString.deletingLastPathComponent):
    /// "/a/b" -> "/a", "/a" -> "/", "a" -> "".
    public static func dirname(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// The last component (NSString.lastPathComponent): "/a/b/" -> "b".
    public static func basename(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/"), trimmed.count > 1 else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (`.whitespaces`).
    public var trimmingSpaces: String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Fixed-point number text, as `String(format: "%.Nf", value)` writes it.
public func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e15 else { return "\(value)" }
    let units = Int64(scaled)
    let factor = Int64(scale)
    var text = "\(units / factor)"
    if digits > 0 {
        let fraction = String(units % factor)
        text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
    return value < 0 && units != 0 ? "-" + text : text
}

/// Lines on standard error, unbuffered (`print(..., to: &standardError)`).
public struct StandardError: TextOutputStream {
    public init() {}

    public static func send(_ string: String) {
        var stream = StandardError()
        stream.write(string)
    }

    public mutating func write(_ string: String) {
        _ = try? FileDescriptor.standardError.writeAll(string.utf8)
    }
}
