/// Reads the YAML that config files are written in: mappings and lists by
/// indentation, flow collections (`{kind: exec, command: [a, "b c"]}`, across
/// lines too), plain, single- and double-quoted scalars, `|` and `>` block
/// scalars, and comments. Anchors, aliases, tags and several documents in one
/// file are refused with an error that names the line, as are tabs in
/// indentation and duplicate keys.
///
/// Why Vigil reads YAML itself: the YAML library it used formats dates and
/// numbers with Foundation's locale-aware formatters, which link ICU and its
/// data (about 38 MB) into the static binary that goes onto a Raspberry Pi.
/// A config file needs none of that.
public enum YAMLReader {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The document in `text`; nil when it holds nothing but comments.
    public static func parse(_ text: String) throws -> YAMLNode? {
        var parser = try BlockParser(text)
        return try parser.document()
    }
}

/// One line of the file: its indentation and its text without the
/// indentation (`raw`) and without a trailing comment (`content`).
private struct SourceLine {
    var number: Int
    var indent: Int
    var content: Substring
    var raw: Substring
    var isBlank: Bool { content.isEmpty }
}

/// The indentation-driven structure: mappings, lists, and where a value
/// starts.
private struct BlockParser {
    var lines: [SourceLine] = []
    var index = 0
    var nesting = 0

    init(_ text: String) throws {
        var text = Substring(text)
        if text.first == "\u{FEFF}" { text = text.dropFirst() }
        // "\r\n" is one Character in Swift.
        let pieces = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, piece) in pieces.enumerated() {
            var line = piece
            if line.last == "\r" { line = line.dropLast() }
            let raw = line.drop(while: { $0 == " " })
            let content = Self.strippingComment(raw)
            if let first = raw.first, first == "\t", !content.isEmpty {
                throw YAMLReader.Failure(line: offset + 1, message: "a tab in the indentation; indent with spaces")
            }
            lines.append(
                SourceLine(
                    number: offset + 1, indent: line.count - raw.count, content: Self.trimmingTrailingSpaces(content),
                    raw: raw))
        }
    }

    var atEnd: Bool { index >= lines.count }

    func fail(_ message: String, line: Int? = nil) -> YAMLReader.Failure {
        YAMLReader.Failure(line: line ?? (atEnd ? lines.count : lines[index].number), message: message)
    }

    /// `---` or `...` at the start of the current line.
    var isDocumentMarker: Bool {
        lines[index].indent == 0 && (lines[index].content == "---" || lines[index].content == "...")
    }

    mutating func skipBlank() {
        while !atEnd, lines[index].isBlank { index += 1 }
    }

    mutating func document() throws -> YAMLNode? {
        skipBlank()
        if !atEnd, lines[index].content == "---", lines[index].indent == 0 {
            index += 1
            skipBlank()
        }
        guard !atEnd else { return nil }
        let node = try block(minIndent: lines[index].indent)
        skipBlank()
        if !atEnd, lines[index].content == "...", lines[index].indent == 0 {
            index += 1
            skipBlank()
        }
        if !atEnd {
            if lines[index].content == "---" {
                throw fail("a second document ('---'); a config file holds one")
            }
            throw fail("unexpected '\(lines[index].content.prefix(40))': check the indentation")
        }
        return node
    }

    /// The block that starts at the current (non-blank) line.
    mutating func block(minIndent: Int) throws -> YAMLNode {
        // Bounds the parser's recursion ("- - - - …" nests on one line).
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= 64 else { throw fail("nested more than 64 levels deep") }
        let line = lines[index]
        if Self.isListItem(line.content) { return try list(indent: line.indent) }
        if try Self.mappingKey(line.content, line: line.number) != nil { return try mapping(indent: line.indent) }
        index += 1
        return try inlineValue(line.content, line: line, blockIndent: minIndent - 1)
    }

    mutating func mapping(indent: Int) throws -> YAMLNode {
        var entries: [YAMLEntry] = []
        while true {
            skipBlank()
            guard !atEnd, lines[index].indent >= indent, !isDocumentMarker else { break }
            let line = lines[index]
            guard line.indent == indent else { throw fail("unexpected indentation") }
            guard let (key, rest) = try Self.mappingKey(line.content, line: line.number) else {
                if Self.isListItem(line.content) {
                    throw fail("a list item ('- …') where a key was expected: check the indentation")
                }
                throw fail("expected 'key: value', found '\(line.content.prefix(40))'")
            }
            if entries.contains(where: { $0.key == key }) { throw fail("the key '\(key)' appears twice") }
            index += 1
            let value: YAMLNode
            if rest.isEmpty {
                skipBlank()
                if !atEnd, lines[index].indent > indent {
                    value = try block(minIndent: indent + 1)
                } else if !atEnd, lines[index].indent == indent, Self.isListItem(lines[index].content) {
                    value = try list(indent: indent)
                } else {
                    value = .scalar(YAMLScalar(""))
                }
            } else {
                value = try inlineValue(rest, line: line, blockIndent: indent)
            }
            entries.append(YAMLEntry(key, value))
        }
        return .mapping(entries)
    }

    mutating func list(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        while true {
            skipBlank()
            guard !atEnd, lines[index].indent >= indent, !isDocumentMarker else { break }
            let line = lines[index]
            guard line.indent == indent else { throw fail("unexpected indentation") }
            guard Self.isListItem(line.content) else { break }
            let rest = line.content.dropFirst().drop(while: { $0 == " " })
            if rest.isEmpty {
                index += 1
                skipBlank()
                if !atEnd, lines[index].indent > indent {
                    items.append(try block(minIndent: indent + 1))
                } else {
                    items.append(.scalar(YAMLScalar("")))
                }
            } else if try Self.isListItem(rest) || Self.mappingKey(rest, line: line.number) != nil {
                // A block that starts on the item's own line ("- key: value"):
                // read it as a line of its own, indented to where it starts.
                lines[index].indent = indent + (line.content.count - rest.count)
                lines[index].content = rest
                items.append(try block(minIndent: indent + 1))
            } else {
                index += 1
                items.append(try inlineValue(rest, line: line, blockIndent: indent))
            }
        }
        return .sequence(items)
    }

    /// A value written after `key:` or `- `; flow collections and block
    /// scalars go on over the following lines.
    mutating func inlineValue(_ text: Substring, line: SourceLine, blockIndent: Int) throws -> YAMLNode {
        switch text.first {
        case "&", "*", "!":
            throw fail("anchors (&), aliases (*) and tags (!) are not supported", line: line.number)
        case "|", ">":
            return .scalar(YAMLScalar(try blockScalar(header: text, line: line, blockIndent: blockIndent)))
        case "{", "[":
            var source = String(text)
            var depth = try FlowParser.depth(of: source, line: line.number)
            while depth > 0 {
                guard !atEnd else {
                    throw fail("'\(text.first!)' is never closed", line: line.number)
                }
                let next = lines[index]
                index += 1
                source += " " + next.content
                depth = try FlowParser.depth(of: source, line: line.number)
            }
            var parser = FlowParser(source, line: line.number)
            return try parser.document()
        case "\"", "'":
            var parser = FlowParser(String(text), line: line.number)
            let scalar = try parser.quoted()
            guard parser.atEnd else {
                throw fail("unexpected text after the quoted string", line: line.number)
            }
            return .scalar(scalar)
        default:
            return .scalar(YAMLScalar(String(text)))
        }
    }

    /// `|` (lines kept) or `>` (lines folded into one), with an optional `-`
    /// (no final newline) or `+` (every final newline).
    mutating func blockScalar(header: Substring, line: SourceLine, blockIndent: Int) throws -> String {
        let literal = header.first == "|"
        let indicator = header.dropFirst()
        guard indicator.isEmpty || indicator == "-" || indicator == "+" else {
            throw fail("unsupported block scalar header '\(header)' (use |, |-, |+, >, >- or >+)", line: line.number)
        }
        var body: [SourceLine] = []
        while !atEnd, lines[index].raw.allSatisfy({ $0 == " " }) || lines[index].indent > blockIndent {
            body.append(lines[index])
            index += 1
        }
        var trailingBlank = 0
        while let last = body.last, last.raw.allSatisfy({ $0 == " " }) {
            body.removeLast()
            trailingBlank += 1
        }
        let contentIndent = body.first(where: { !$0.raw.allSatisfy({ $0 == " " }) })?.indent ?? 0
        let texts = body.map { line -> String in
            line.raw.allSatisfy({ $0 == " " })
                ? "" : String(repeating: " ", count: max(0, line.indent - contentIndent)) + line.raw
        }
        var value: String
        if literal {
            value = texts.joined(separator: "\n")
        } else {
            value = ""
            // Lines joined by spaces; each empty line is one newline.
            for (offset, text) in texts.enumerated() {
                if text.isEmpty {
                    value += "\n"
                } else {
                    if offset > 0, !texts[offset - 1].isEmpty { value += " " }
                    value += text
                }
            }
        }
        guard !texts.isEmpty else { return "" }
        switch indicator {
        case "-": return value
        case "+": return value + String(repeating: "\n", count: 1 + trailingBlank)
        default: return value + "\n"
        }
    }

    static func isListItem(_ content: Substring) -> Bool {
        content == "-" || content.hasPrefix("- ")
    }

    /// The key and the rest of a `key: value` line; nil if the line is not
    /// one.
    static func mappingKey(_ content: Substring, line: Int) throws -> (String, Substring)? {
        guard let first = content.first, first != "[", first != "{", !isListItem(content) else { return nil }
        if first == "\"" || first == "'" {
            var parser = FlowParser(String(content), line: line)
            let key = try parser.quoted()
            let rest = parser.remainder.drop(while: { $0 == " " })
            guard rest.first == ":", rest.count == 1 || rest.dropFirst().first == " " else { return nil }
            return (key.string, rest.dropFirst().drop(while: { $0 == " " }))
        }
        var position = content.startIndex
        while let colon = content[position...].firstIndex(of: ":") {
            let after = content.index(after: colon)
            if after == content.endIndex || content[after] == " " {
                let key = trimmingTrailingSpaces(content[..<colon])
                guard !key.isEmpty else { return nil }
                return (String(key), content[after...].drop(while: { $0 == " " }))
            }
            position = after
        }
        return nil
    }

    /// `text` up to its comment: a `#` at the start or after a space, outside
    /// quotes. A quote opens a quoted string only where a value can start
    /// (so the apostrophe in `Porch's camera` is just a character).
    static func strippingComment(_ text: Substring) -> Substring {
        var quote: Character?
        var previous: Character?
        var position = text.startIndex
        while position < text.endIndex {
            let character = text[position]
            let next = text.index(after: position)
            if let open = quote {
                if open == "\"", character == "\\", next < text.endIndex {
                    position = text.index(after: next)
                    previous = text[next]
                    continue
                } else if open == "'", character == "'", next < text.endIndex, text[next] == "'" {
                    position = text.index(after: next)
                    previous = "'"
                    continue
                } else if character == open {
                    quote = nil
                }
            } else if character == "#", previous == nil || previous == " " || previous == "\t" {
                return text[..<position]
            } else if character == "\"" || character == "'", previous == nil || " \t[{,".contains(previous!) {
                quote = character
            }
            previous = character
            position = next
        }
        return text
    }

    static func trimmingTrailingSpaces(_ text: Substring) -> Substring {
        var text = text
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}

/// Flow collections and quoted scalars, read character by character.
private struct FlowParser {
    let characters: [Character]
    var position = 0
    let line: Int

    init(_ text: String, line: Int) {
        characters = Array(text)
        self.line = line
    }

    var atEnd: Bool {
        characters[position...].allSatisfy { $0 == " " || $0 == "\t" }
    }

    var remainder: Substring { Substring(String(characters[position...])) }

    func fail(_ message: String) -> YAMLReader.Failure {
        YAMLReader.Failure(line: line, message: message)
    }

    /// How many `{`/`[` of `text` are still open (quotes skipped).
    static func depth(of text: String, line: Int) throws -> Int {
        var depth = 0
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if open == "\"", character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "\"", "'": quote = character
            case "{", "[":
                depth += 1
                // Bounds the parser's recursion.
                if depth > 64 { throw YAMLReader.Failure(line: line, message: "nested more than 64 levels deep") }
            case "}", "]":
                depth -= 1
                if depth < 0 { throw YAMLReader.Failure(line: line, message: "'\(character)' closes nothing") }
            default: break
            }
        }
        return depth
    }

    mutating func skipSpaces() {
        while position < characters.count, characters[position] == " " || characters[position] == "\t" {
            position += 1
        }
    }

    func peek() -> Character? {
        position < characters.count ? characters[position] : nil
    }

    mutating func document() throws -> YAMLNode {
        let node = try value()
        guard atEnd else {
            throw fail("unexpected '\(String(characters[position...]).prefix(20))' after '\(peekClosing())'")
        }
        return node
    }

    private func peekClosing() -> String {
        position > 0 ? String(characters[position - 1]) : ""
    }

    mutating func value() throws -> YAMLNode {
        skipSpaces()
        switch peek() {
        case "{": return try mapping()
        case "[": return try sequence()
        case "\"", "'": return .scalar(try quoted())
        case "&", "*", "!": throw fail("anchors (&), aliases (*) and tags (!) are not supported")
        default: return .scalar(YAMLScalar(plain(isKey: false)))
        }
    }

    mutating func mapping() throws -> YAMLNode {
        position += 1
        var entries: [YAMLEntry] = []
        while true {
            skipSpaces()
            if peek() == "}" {
                position += 1
                return .mapping(entries)
            }
            let key: String
            switch peek() {
            case "\"", "'": key = try quoted().string
            case nil: throw fail("'{' is never closed")
            default: key = plain(isKey: true)
            }
            guard !key.isEmpty else { throw fail("a key is missing in '{…}'") }
            if entries.contains(where: { $0.key == key }) { throw fail("the key '\(key)' appears twice") }
            skipSpaces()
            var entryValue = YAMLNode.scalar(YAMLScalar(""))
            if peek() == ":" {
                position += 1
                skipSpaces()
                if peek() != "," && peek() != "}" { entryValue = try value() }
            }
            entries.append(YAMLEntry(key, entryValue))
            skipSpaces()
            switch peek() {
            case ",": position += 1
            case "}": continue
            default: throw fail("expected ',' or '}' after the value of '\(key)'")
            }
        }
    }

    mutating func sequence() throws -> YAMLNode {
        position += 1
        var items: [YAMLNode] = []
        while true {
            skipSpaces()
            switch peek() {
            case "]":
                position += 1
                return .sequence(items)
            case nil: throw fail("'[' is never closed")
            default: break
            }
            items.append(try value())
            skipSpaces()
            switch peek() {
            case ",": position += 1
            case "]": continue
            default: throw fail("expected ',' or ']' in a list")
            }
        }
    }

    /// A plain scalar inside a flow collection: up to `,`, `]`, `}`, or a
    /// `:` followed by a space (or, for a key, by the end of the entry).
    mutating func plain(isKey: Bool) -> String {
        let start = position
        while let character = peek() {
            if character == "," || character == "]" || character == "}" { break }
            if character == ":" {
                let next = position + 1 < characters.count ? characters[position + 1] : " "
                if next == " " || (isKey && (next == "," || next == "}" || next == "]")) { break }
            }
            position += 1
        }
        var text = String(characters[start..<position])
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }

    mutating func quoted() throws -> YAMLScalar {
        guard let open = peek() else { throw fail("expected a quoted string") }
        position += 1
        var text = ""
        while true {
            guard let character = peek() else {
                throw fail("a string opened with \(open) is never closed (quoted strings end on their line)")
            }
            position += 1
            if character == open {
                if open == "'", peek() == "'" {
                    position += 1
                    text.append("'")
                    continue
                }
                return YAMLScalar(text, isQuoted: true)
            }
            if open == "\"", character == "\\" {
                text.append(try escape())
            } else {
                text.append(character)
            }
        }
    }

    private mutating func escape() throws -> Character {
        guard let code = peek() else { throw fail("a string ends with '\\'") }
        position += 1
        switch code {
        case "\\": return "\\"
        case "\"": return "\""
        case "/": return "/"
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "0": return "\0"
        case " ": return " "
        case "x", "u", "U":
            let digits = code == "x" ? 2 : code == "u" ? 4 : 8
            guard position + digits <= characters.count,
                let value = UInt32(String(characters[position..<position + digits]), radix: 16),
                let scalar = Unicode.Scalar(value)
            else { throw fail("a bad \\\(code) escape") }
            position += digits
            return Character(scalar)
        default:
            throw fail("unknown escape '\\\(code)' (write '\\\\' for a backslash)")
        }
    }
}
