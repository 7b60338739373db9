import Foundation
import SluiceTestSupport
import Testing

/// `sluice connectors new`: each project passes `sluice connectors test` as generated, in Python and in
/// Swift (built with `swift build` against this package).
@Suite(.serialized) struct ConnectorScaffoldTests {
    static func generateAndTest(language: String, role: String, name: String, build: Bool = false) throws -> String {
        let dir = TemporaryDirectory()
        let made = try EndToEnd.sluice(
            ["connectors", "new", name, "--language", language, "--role", role], in: dir.path)
        #expect(made.stdout.contains("README.md"))
        let project = dir.file(name)
        #expect(FileManager.default.fileExists(atPath: project + "/README.md"))
        if build {
            let built = try Subprocess.run("/usr/bin/env", ["swift", "build", "--package-path", project])
            #expect(built.status == 0, "swift build: \(built.stdout.suffix(3000))\(built.stderr.suffix(3000))")
        }
        let command = language == "python" ? "python3 connector.py" : ".build/debug/\(name)"
        let result = try EndToEnd.sluice(
            ["connectors", "test", "exec", "--command", command, "--config", "test-options.json"], in: project)
        return result.stdout
    }

    @Test func aPythonSourcePassesAsGenerated() throws {
        let report = try Self.generateAndTest(language: "python", role: "source", name: "lines")
        #expect(report.contains("8 of 8 checks passed"), "\(report)")
    }

    @Test func aPythonSinkPassesAsGenerated() throws {
        let report = try Self.generateAndTest(language: "python", role: "sink", name: "my-sink")
        #expect(report.contains("11 of 11 checks passed"), "\(report)")
    }

    @Test func aSwiftSinkBuildsAndPassesAsGenerated() throws {
        let report = try Self.generateAndTest(language: "swift", role: "sink", name: "audit-sink", build: true)
        #expect(report.contains("11 of 11 checks passed"), "\(report)")
    }

    @Test func badNamesAndFullFoldersAreRefused() throws {
        let dir = TemporaryDirectory()
        let bad = try EndToEnd.sluice(
            ["connectors", "new", "Bad Name", "--language", "python", "--role", "sink"], in: dir.path, expect: 2)
        #expect(bad.stderr.contains("not a connector name"), "\(bad.stderr)")
        try EndToEnd.sluice(["connectors", "new", "x", "--language", "python", "--role", "sink"], in: dir.path)
        let again = try EndToEnd.sluice(
            ["connectors", "new", "x", "--language", "python", "--role", "sink"], in: dir.path, expect: 2)
        #expect(again.stderr.contains("not empty"), "\(again.stderr)")
        let builtIn = try EndToEnd.sluice(
            ["connectors", "new", "csv", "--language", "python", "--role", "source"], in: dir.path, expect: 2)
        #expect(builtIn.stderr.contains("\"csv\" is a built-in connector type"), "\(builtIn.stderr)")
        try EndToEnd.write("", to: "taken", in: dir.path)
        let file = try EndToEnd.sluice(
            ["connectors", "new", "y", "--language", "python", "--role", "sink", "--output", "taken"], in: dir.path,
            expect: 2)
        #expect(file.stderr.contains("taken is a file"), "\(file.stderr)")
    }
}
