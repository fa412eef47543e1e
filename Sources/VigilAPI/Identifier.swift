#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The shapes of the names and ids the API carries. Each is checked before
/// any lookup, and before any of them becomes part of a file path.
public enum Identifier {
    public enum Kind: Sendable {
        /// A camera id: letters, digits, `_` and `-`, 1-64 characters.
        case camera
        /// A capture, motion event or session id, as the server makes them:
        /// lowercase letters, digits and `-`, 1-40 characters.
        case record
        /// An attachment's file name: letters, digits, `.`, `_` and `-`,
        /// 1-100 characters, not starting with `.`.
        case fileName
    }

    public static func isValid(_ text: String, _ kind: Kind) -> Bool {
        let bytes = text.utf8
        switch kind {
        case .camera:
            return !bytes.isEmpty && bytes.count <= 64
                && bytes.allSatisfy { isLetterOrDigit($0) || $0 == _u || $0 == _h }
        case .record:
            return !bytes.isEmpty && bytes.count <= 40 && bytes.allSatisfy { isLowercaseOrDigit($0) || $0 == _h }
        case .fileName:
            return !bytes.isEmpty && bytes.count <= 100 && bytes.first != _d
                && bytes.allSatisfy { isLetterOrDigit($0) || $0 == _u || $0 == _h || $0 == _d }
        }
    }

    /// A new record id: time-ordered, URL-safe, unique (`prefix` tells the
    /// kinds apart where they share a namespace).
    public static func newRecordID(prefix: String = "", now: Date = Date()) -> String {
        let millis = Int64(now.timeIntervalSince1970 * 1000)
        let random = UInt32.random(in: 0...UInt32.max)
        return prefix + String(millis, radix: 36) + "-" + String(random, radix: 36)
    }

    private static let _u = UInt8(ascii: "_")
    private static let _h = UInt8(ascii: "-")
    private static let _d = UInt8(ascii: ".")

    private static func isLowercaseOrDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A)
    }

    private static func isLetterOrDigit(_ c: UInt8) -> Bool {
        isLowercaseOrDigit(c) || (c >= 0x41 && c <= 0x5A)
    }
}
