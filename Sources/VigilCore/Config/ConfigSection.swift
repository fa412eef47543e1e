/// One mapping of the config file as a table: each key and how its value is
/// read. The keys a mapping allows are the table's keys, so a key cannot be
/// read without being allowed, or allowed without being read.
struct ConfigSection<Value>: Sendable {
    typealias Read =
        @Sendable (_ reader: inout ConfigReader, _ node: YAMLNode, _ path: String, _ value: inout Value) ->
        Void

    let fields: [(key: String, read: Read)]

    init(_ fields: [(key: String, read: Read)]) {
        self.fields = fields
    }

    var keys: [String] { fields.map(\.key) }
}

extension ConfigReader {
    /// Reads the mapping at `path` into `value` through `section`; unknown
    /// keys are reported with the list of known ones.
    mutating func read<Value>(
        _ node: YAMLNode?, _ path: String, into value: inout Value, _ section: ConfigSection<Value>
    ) {
        for (key, child) in mapping(node, path, allowed: section.keys) {
            section.fields.first { $0.key == key }?.read(&self, child, join(path, key), &value)
        }
    }
}
