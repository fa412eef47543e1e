extension ConfigReader {
    private struct TLSDraft {
        var cert: String?
        var key: String?
    }

    private static let tlsSection = ConfigSection<TLSDraft>([
        ("cert", { r, node, path, tls in tls.cert = r.nonEmptyString(node, path) }),
        ("key", { r, node, path, tls in tls.key = r.nonEmptyString(node, path) }),
    ])

    /// `server.tls: {cert, key}`.
    mutating func readTLS(_ node: YAMLNode, _ path: String) -> TLSFiles? {
        var draft = TLSDraft()
        read(node, path, into: &draft, Self.tlsSection)
        guard let cert = draft.cert, let key = draft.key else {
            fail(path, "needs cert and key (PEM files)")
            return nil
        }
        return TLSFiles(cert: cert, key: key)
    }
}
