#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How every message and record is written and read: one encoder setting
/// for the whole API, so a field is spelled the same on every path.
///
/// Keys are sorted (stable output, easy to compare in logs and tests) and
/// slashes are not escaped (URLs stay readable).
public enum WireJSON {
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// The JSON text of `value`. Vigil's own wire types always encode; a
    /// failure (a non-finite number) is answered with an error message so
    /// that the peer sees something instead of nothing.
    public static func text(_ value: some Encodable) -> String {
        do {
            return String(decoding: try encode(value), as: UTF8.self)
        } catch {
            return #"{"code":"encoding_failed","message":"the server could not encode a message","type":"error"}"#
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(data))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: Array(text.utf8))
    }
}
