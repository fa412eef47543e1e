/// The `type` field every socket message carries.
struct TypeTag: Codable {
    var type: String
}

/// Encodes `body`'s fields and `type` (and `version`, when given) into one
/// JSON object: socket messages are flat, not nested under a payload key.
func encodeTagged(
    _ body: some Encodable, type: String, version: UInt64? = nil, to encoder: any Encoder
) throws {
    try body.encode(to: encoder)
    var container = encoder.container(keyedBy: TagKeys.self)
    try container.encode(type, forKey: .type)
    if let version { try container.encode(version, forKey: .version) }
}

/// Encodes just `type` (and `version`): messages without a body.
func encodeTag(_ type: String, version: UInt64? = nil, to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: TagKeys.self)
    try container.encode(type, forKey: .type)
    if let version { try container.encode(version, forKey: .version) }
}

enum TagKeys: String, CodingKey {
    case type, version
}

/// Why a socket message could not be understood, in the words the server
/// answers with (`bad_json`, `missing_type`, `unknown_type`, `bad_message`).
public struct MessageDecodingError: Error, Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// Reads the `type` of a JSON text message, or says what is wrong with it.
    static func type(of data: some Collection<UInt8>) throws(MessageDecodingError) -> String {
        let object: [String: JSONValue]
        do {
            object = try WireJSON.decode([String: JSONValue].self, from: data)
        } catch {
            throw MessageDecodingError(code: "bad_json", message: "messages must be JSON objects with a \"type\"")
        }
        guard case .string(let type)? = object["type"] else {
            throw MessageDecodingError(code: "missing_type", message: "messages need a string \"type\"")
        }
        return type
    }
}
