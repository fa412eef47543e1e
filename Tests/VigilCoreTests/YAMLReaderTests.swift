import Foundation
import Testing
import VigilCore

/// The YAML reader against what config files contain, and against what they
/// get wrong.
struct YAMLReaderTests {
    func s(_ text: String, quoted: Bool = false) -> YAMLNode { .scalar(YAMLScalar(text, isQuoted: quoted)) }
    func map(_ entries: (String, YAMLNode)...) -> YAMLNode { .mapping(entries.map { YAMLEntry($0.0, $0.1) }) }

    func failure(_ text: String) -> YAMLReader.Failure? {
        do {
            _ = try YAMLReader.parse(text)
            return nil
        } catch let failure as YAMLReader.Failure {
            return failure
        } catch {
            return nil
        }
    }

    @Test func blockMappingsAndListsByIndentation() throws {
        let text = """
            # Vigil
            server:
              host: 0.0.0.0   # every address
              port: 8080
            cameras:
              porch:
                source:
                  kind: exec
                  command:
                    - rpicam-vid
                    - -t
                    - "0"
                stale_after: 5s
            list:
            - a
            -   b
            - - nested
              - twice
            - key: one
              other: two
            -
              deep: yes
            """
        let expected = map(
            ("server", map(("host", s("0.0.0.0")), ("port", s("8080")))),
            (
                "cameras",
                map(
                    (
                        "porch",
                        map(
                            (
                                "source",
                                map(
                                    ("kind", s("exec")),
                                    ("command", .sequence([s("rpicam-vid"), s("-t"), s("0", quoted: true)]))
                                )
                            ),
                            ("stale_after", s("5s"))
                        )
                    )
                )
            ),
            (
                "list",
                .sequence([
                    s("a"), s("b"), .sequence([s("nested"), s("twice")]),
                    map(("key", s("one")), ("other", s("two"))), map(("deep", s("yes"))),
                ])
            )
        )
        #expect(try YAMLReader.parse(text) == expected)
    }

    @Test func flowCollectionsOnOneLineAndAcrossLines() throws {
        let text = """
            a: {kind: testpattern, width: 1280, fps: 30}
            b: [gphoto2, --capture-image-and-download, --filename, "{output}"]
            c: {source: {kind: mjpeg, url: "http://10.0.0.7/stream", username: view}, mask: [[1, 2], []]}
            d: {
                kind: exec,   # a comment inside
                command: [ffmpeg, -i,
                          'rtsp://cam/1'],
              }
            e: {}
            f: []
            g: {flag}
            """
        let expected = map(
            ("a", map(("kind", s("testpattern")), ("width", s("1280")), ("fps", s("30")))),
            (
                "b",
                .sequence([
                    s("gphoto2"), s("--capture-image-and-download"), s("--filename"), s("{output}", quoted: true),
                ])
            ),
            (
                "c",
                map(
                    (
                        "source",
                        map(
                            ("kind", s("mjpeg")), ("url", s("http://10.0.0.7/stream", quoted: true)),
                            ("username", s("view")))
                    ),
                    ("mask", .sequence([.sequence([s("1"), s("2")]), .sequence([])]))
                )
            ),
            (
                "d",
                map(
                    ("kind", s("exec")),
                    ("command", .sequence([s("ffmpeg"), s("-i"), s("rtsp://cam/1", quoted: true)])))
            ),
            ("e", .mapping([])),
            ("f", .sequence([])),
            ("g", map(("flag", s(""))))
        )
        #expect(try YAMLReader.parse(text) == expected)
    }

    @Test func scalarsKeepWhatWasWritten() throws {
        let text = #"""
            plain: http://user:pass@host:8080/a#b?c   # URL with a colon and a hash
            apostrophe: Porch's camera # comment
            single: 'it''s # not a comment'
            double: "tab\there \"q\" \u00e9 \\ # kept"
            empty:
            spaced key: value with  two spaces
            "quoted key": 1
            colon: a:b
            hash: color#1
            """#
        let expected = map(
            ("plain", s("http://user:pass@host:8080/a#b?c")),
            ("apostrophe", s("Porch's camera")),
            ("single", s("it's # not a comment", quoted: true)),
            ("double", s("tab\there \"q\" é \\ # kept", quoted: true)),
            ("empty", s("")),
            ("spaced key", s("value with  two spaces")),
            ("quoted key", s("1")),
            ("colon", s("a:b")),
            ("hash", s("color#1"))
        )
        #expect(try YAMLReader.parse(text) == expected)
    }

    @Test func blockScalars() throws {
        let text = """
            literal: |
              line one
                indented
              line three

            folded: >-
              one
              two

              three
            kept: |+
              end

            after: x
            """
        let expected = map(
            ("literal", s("line one\n  indented\nline three\n")),
            ("folded", s("one two\nthree")),
            ("kept", s("end\n\n")),
            ("after", s("x"))
        )
        let parsed = try YAMLReader.parse(text)
        #expect(parsed == expected, "\(String(describing: parsed))")
    }

    @Test func documentsCommentsAndLineEndings() throws {
        #expect(try YAMLReader.parse("") == nil)
        #expect(try YAMLReader.parse("# only a comment\n\n   # another\n") == nil)
        #expect(try YAMLReader.parse("---\na: 1\n...\n") == map(("a", s("1"))))
        #expect(try YAMLReader.parse("\u{FEFF}a: 1\r\nb: 2\r\n") == map(("a", s("1")), ("b", s("2"))))
        #expect(try YAMLReader.parse("just text") == s("just text"))
    }

    @Test func mistakesNameTheirLine() throws {
        let cases: [(String, Int, String)] = [
            ("a: 1\nb:\n\tc: 2\n", 3, "tab"),
            ("a: 1\na: 2\n", 2, "appears twice"),
            ("a:\n  b: 1\n    c: 2\n", 3, "indentation"),
            ("a: {b: 1\nc: 2\n", 1, "never closed"),
            ("a: [1, 2]]\n", 1, "closes nothing"),
            ("a: \"open\n", 1, "never closed"),
            ("a: &anchor 1\n", 1, "anchors"),
            ("a: *alias\n", 1, "aliases"),
            ("a: !!str 1\n", 1, "tags"),
            ("a: 1\n---\nb: 2\n", 2, "second document"),
            ("a: \"x\" y\n", 1, "after the quoted string"),
            ("a: \"\\q\"\n", 1, "unknown escape"),
            ("a:\n  - 1\n  b: 2\n", 3, "indentation"),
            ("a: {b: 1 c: 2}\n", 1, "expected ','"),
            ("a: |x\n  t\n", 1, "block scalar header"),
            ("a: 1\n- b\n", 2, "list item"),
            ("a: " + String(repeating: "[", count: 100_000) + "\n", 1, "64 levels"),
            ("a:\n  " + String(repeating: "- ", count: 100_000) + "x\n", 2, "64 levels"),
        ]
        for (text, line, words) in cases {
            let failure = try #require(self.failure(text), "no error for \(text.debugDescription)")
            #expect(failure.line == line, "\(text.debugDescription): \(failure)")
            #expect(failure.message.contains(words), "\(text.debugDescription): \(failure)")
        }
    }

    /// Every YAML example in the README and the docs reads.
    @Test func theDocumentedExamplesRead() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../..").standardized
        var text = ""
        for page in [
            "README.md", "docs/configuration.md", "docs/api.md", "docs/operations.md", "docs/consumers.md",
            "docs/integrations.md",
        ] {
            text += try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8) + "\n"
        }
        var blocks: [String] = []
        var current: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.hasPrefix("```yaml") {
                current = []
            } else if current != nil, line.hasPrefix("```") {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(String(line))
            }
        }
        #expect(blocks.count >= 10)
        for block in blocks {
            #expect(throws: Never.self, "documented block:\n\(block)") { try YAMLReader.parse(block) }
        }
    }
}
