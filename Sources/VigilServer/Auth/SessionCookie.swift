import Crypto
import HTTPTypes
import VigilAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The page's login: a cookie `vigil_session` holding the user, role and
/// expiry, signed with HMAC-SHA256 under a key kept in the data dir (so a
/// login survives a restart, and a forged or edited cookie is refused).
struct SessionCookie: Sendable {
    static let name = "vigil_session"

    let key: SymmetricKey
    let ttl: Duration

    /// The cookie for `identity`: `name.role.expiry.signature`.
    func value(for identity: Identity, now: Date = Date()) -> String {
        let expiry = Int64(now.timeIntervalSince1970 + ttl.seconds)
        let payload = "\(identity.name).\(identity.role.rawValue).\(expiry)"
        return payload + "." + signature(payload)
    }

    /// The `Set-Cookie` header that logs in.
    func setCookie(for identity: Identity, secure: Bool) -> String {
        "\(Self.name)=\(value(for: identity)); Path=/; Max-Age=\(Int64(ttl.seconds)); HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` header that logs out.
    static let clearCookie = "\(name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"

    /// Who a cookie names, if it is signed by this key and not expired.
    func identity(from cookie: String, now: Date = Date()) -> Identity? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let role = Role(rawValue: String(parts[1])), let expiry = Int64(parts[2]) else {
            return nil
        }
        let payload = parts[0...2].joined(separator: ".")
        guard let given = AccessControl.bytes(hex: String(parts[3])),
            let expected = AccessControl.bytes(hex: signature(payload)),
            AccessControl.constantTimeEqual(given, expected),
            Double(expiry) > now.timeIntervalSince1970
        else { return nil }
        return Identity(name: String(parts[0]), role: role)
    }

    private func signature(_ payload: String) -> String {
        AccessControl.hexString(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key))
    }

    /// The session cookie's value among a request's cookies.
    static func value(in fields: HTTPFields) -> String? {
        for header in fields[values: .cookie] {
            for item in header.split(separator: ";") {
                let pair = item.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces == name { return pair[1].trimmingSpaces }
            }
        }
        return nil
    }
}
