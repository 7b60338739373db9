import Foundation
import SluiceTestSupport
import Testing

/// Help that people copy from: every example line of every command's help fits an 80-column terminal
/// unwrapped, so that pasting it runs what it shows; and the top-level help lists every exit code.
@Suite struct HelpLayoutTests {
    /// The longest example line, with its indent: a few columns short of 80, so a line never touches
    /// the edge.
    static let widest = 76

    /// Every command, from the parser's own description of the command tree.
    static func commands() throws -> [[String]] {
        let dir = TemporaryDirectory()
        let dump = try SluiceBinary.run(["--experimental-dump-help"], in: dir.path)
        let json = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
        var result: [[String]] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            result.append(path)
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let name = sub["commandName"] as? String, name != "help" else { continue }
                walk(sub, path + [name])
            }
        }
        walk(try #require(json?["command"] as? [String: Any]), [])
        return result
    }

    /// The lines under "Example:" or "Examples:" up to the next blank or unindented line.
    static func exampleLines(_ help: String) -> [String] {
        var lines: [String] = []
        var inExamples = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "Example:" || trimmed == "Examples:" {
                inExamples = true
            } else if inExamples && line.hasPrefix("  ") && !trimmed.isEmpty {
                lines.append(line)
            } else {
                inExamples = false
            }
        }
        return lines
    }

    @Test func theCommandTreeIsFound() throws {
        let commands = try Self.commands()
        #expect(commands.contains(["groups", "reset-offsets"]))
        #expect(commands.count > 20)
    }

    @Test func noExampleIsWrappedAt80Columns() throws {
        let dir = TemporaryDirectory()
        var checked = 0
        for command in try Self.commands() {
            let wide = try SluiceBinary.run(command + ["--help"], in: dir.path, environment: ["COLUMNS": "1000"])
            let narrow = try SluiceBinary.run(command + ["--help"], in: dir.path, environment: ["COLUMNS": "80"])
            let narrowLines = Set(narrow.stdout.split(separator: "\n").map(String.init))
            let name = (["sluice"] + command).joined(separator: " ")
            let examples = Self.exampleLines(wide.stdout)
            #expect(!examples.isEmpty, "`\(name) --help` shows no example")
            for line in examples {
                checked += 1
                #expect(line.count <= Self.widest, "`\(name) --help`: \(line.count) columns: \(line)")
                #expect(narrowLines.contains(line), "`\(name) --help` wraps this example at 80 columns: \(line)")
            }
        }
        #expect(checked > 40)
    }

    @Test func theTopLevelHelpListsEveryExitCode() throws {
        let dir = TemporaryDirectory()
        let help = try SluiceBinary.run(["--help"], in: dir.path, environment: ["COLUMNS": "80"])
        let text = help.stdout
        for (code, meaning) in [
            ("0", "success"), ("1", "runtime failure"), ("2", "usage or configuration error"),
            ("3", "dead-lettered"), ("128+N", "signal N"), ("128+N", "130 for Ctrl-C"),
        ] {
            let listed = text.split(separator: "\n").contains { line in
                line.trimmingCharacters(in: .whitespaces).hasPrefix(code) && line.contains(meaning)
            }
            #expect(listed, "exit code \(code) (\(meaning)) is not listed in `sluice --help`")
        }
    }
}
