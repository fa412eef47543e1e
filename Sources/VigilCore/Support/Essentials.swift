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
// methods, JSONSerialization, NSNull, String(format:), CharacterSet,
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
        var bytes = Array(string.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { break }
            offset += written
        }
    }

    private func write(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.write(fd, pointer, count)
        #else
            Darwin.write(fd, pointer, count)
        #endif
    }
}

/// JSON null inside the untyped `[String: Any]` values `JSONText` reads and writes.
public struct JSONNull: Sendable, Hashable {
    public init() {}
}

/// Untyped JSON (`[String: Any]`, `[Any]`, String, Int, Double, Bool,
/// JSONNull), read and written with FoundationEssentials' JSONDecoder and
/// JSONEncoder in place of JSONSerialization.
public enum JSONText {
    /// The value in `data`, or nil if it is not JSON. Numbers without a
    /// fraction or exponent come back as Int, others as Double.
    public static func parse(_ data: Data) -> Any? {
        (try? JSONDecoder().decode(Value.self, from: data))?.any
    }

    public static func parse(_ text: String) -> Any? {
        parse(Data(text.utf8))
    }

    /// JSON text for `value` (keys sorted); nil if it holds something that
    /// is not JSON.
    public static func data(_ value: Any) -> Data? {
        guard let converted = Value(value) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try? encoder.encode(converted)
    }

    public static func string(_ value: Any) -> String? {
        data(value).map { String(decoding: $0, as: UTF8.self) }
    }

    private enum Value: Codable {
        case null, bool(Bool), int(Int), double(Double), string(String)
        case array([Value]), object([String: Value])

        init?(_ any: Any) {
            switch any {
            case is JSONNull: self = .null
            case let value as Bool: self = .bool(value)
            case let value as Int: self = .int(value)
            case let value as Int64: self = .int(Int(value))
            case let value as Int32: self = .int(Int(value))
            case let value as UInt8: self = .int(Int(value))
            case let value as UInt64 where value <= UInt64(Int.max): self = .int(Int(value))
            case let value as Double: self = .double(value)
            case let value as Float: self = .double(Double(value))
            case let value as String: self = .string(value)
            case let value as Substring: self = .string(String(value))
            case let value as [String: Any]:
                var object: [String: Value] = [:]
                for (key, element) in value {
                    guard let converted = Value(element) else { return nil }
                    object[key] = converted
                }
                self = .object(object)
            case let value as [Any]:
                var array: [Value] = []
                for element in value {
                    guard let converted = Value(element) else { return nil }
                    array.append(converted)
                }
                self = .array(array)
            default:
                // nil inside an Optional written as Any.
                if case Optional<Any>.none = any { self = .null } else { return nil }
            }
        }

        var any: Any {
            switch self {
            case .null: JSONNull()
            case .bool(let value): value
            case .int(let value): value
            case .double(let value): value
            case .string(let value): value
            case .array(let value): value.map(\.any)
            case .object(let value): value.mapValues(\.any)
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .double(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            case .double(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }
    }
}
