import ArgumentParser
import Crypto
import HummingbirdBcrypt

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `vigil hash-password`: the bcrypt hash of a password, for `auth.users`.
struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password",
        abstract: "Print the bcrypt hash of a password (read from stdin) for auth.users[].password_hash.",
        discussion: "Example: printf '%s' 'my secret' | vigil hash-password")

    @Option(help: "bcrypt cost (work factor), 10-15.")
    var cost: UInt8 = 12

    func validate() throws {
        guard (10...15).contains(cost) else { throw ValidationError("--cost must be 10-15") }
    }

    func run() throws {
        var password = ""
        while let line = readLine(strippingNewline: true) {
            password += password.isEmpty ? line : "\n" + line
        }
        guard !password.isEmpty else { throw CommandFailure("no password on stdin") }
        guard password.utf8.count <= 72 else {
            throw CommandFailure("bcrypt uses at most 72 bytes of a password; this one has \(password.utf8.count)")
        }
        print(Bcrypt.hash(password, cost: cost))
    }
}

/// `vigil new-token`: a random API token and the SHA-256 that goes in the config.
struct NewToken: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-token",
        abstract: "Make a random API token; the config keeps only its SHA-256 (auth.tokens[].token_sha256).")

    func run() {
        var random = SystemRandomNumberGenerator()
        let token = (0..<24).map { _ in hex(UInt8.random(in: 0...255, using: &random)) }.joined()
        let digest = SHA256.hash(data: Data(token.utf8)).map(hex).joined()
        print("token:        \(token)")
        print("token_sha256: \(digest)")
    }

    private func hex(_ byte: UInt8) -> String {
        (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }
}
