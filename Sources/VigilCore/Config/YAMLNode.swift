/// A parsed YAML value: what `YAMLReader` gives the config loader.
///
/// Scalars stay text (the loader decides what a number, a duration or a
/// boolean is, and names the key when it is not one); mapping keys are always
/// text and keep their order.
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(YAMLScalar)
    case mapping([YAMLEntry])
    case sequence([YAMLNode])
}

public struct YAMLScalar: Sendable, Equatable {
    public var string: String
    /// Written in quotes ('…' or "…").
    public var isQuoted: Bool
    /// Nothing was written (`key:` with no value).
    public var isEmpty: Bool { string.isEmpty && !isQuoted }

    public init(_ string: String, isQuoted: Bool = false) {
        self.string = string
        self.isQuoted = isQuoted
    }
}

public struct YAMLEntry: Sendable, Equatable {
    public var key: String
    public var value: YAMLNode

    public init(_ key: String, _ value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

extension YAMLNode {
    /// The text of a scalar; nil for a mapping or a sequence.
    public var string: String? {
        if case .scalar(let scalar) = self { return scalar.string }
        return nil
    }
}
