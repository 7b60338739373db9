import Foundation
import SluiceTestSupport
import Testing

/// `sluice --help` and every subcommand's help, compared with the stored snapshots in Snapshots/.
/// Run with SLUICE_UPDATE_SNAPSHOTS=1 to write them anew after a deliberate change, and review the diff.
@Suite struct HelpSnapshotTests {
    static let commands: [[String]] = [
        [], ["run"], ["daemon"], ["status"], ["reload"], ["pause"], ["resume"], ["dlq"], ["dlq", "replay"],
        ["validate"], ["topics"],
        ["topics", "list"],
        ["topics", "describe"], ["topics", "create"],
        ["topics", "alter"], ["topics", "delete"], ["produce"], ["consume"], ["groups"], ["groups", "list"],
        ["groups", "describe"], ["groups", "reset-offsets"], ["groups", "delete"], ["sources"], ["sources", "list"],
        ["sources", "files"],
        ["sources", "reset"],
        ["connectors"], ["connectors", "list"],
        ["connectors", "describe"], ["perf"], ["perf", "produce"], ["perf", "consume"], ["perf", "parse"],
        ["perf", "generate-orders"],
    ]

    static var snapshots: String {
        ((#filePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("Snapshots")
    }

    @Test(arguments: commands)
    func helpMatchesItsSnapshot(_ command: [String]) throws {
        let dir = TemporaryDirectory()
        let result = try SluiceBinary.run(command + ["--help"], in: dir.path, environment: ["COLUMNS": "100"])
        #expect(result.status == 0)
        let name = (["sluice"] + command).joined(separator: "-") + ".txt"
        let path = Self.snapshots + "/" + name
        if ProcessInfo.processInfo.environment["SLUICE_UPDATE_SNAPSHOTS"] == "1" {
            try FileManager.default.createDirectory(atPath: Self.snapshots, withIntermediateDirectories: true)
            try Data(result.stdout.utf8).write(to: URL(fileURLWithPath: path))
            return
        }
        let stored = try String(contentsOfFile: path, encoding: .utf8)
        #expect(result.stdout == stored, "help of `sluice \(command.joined(separator: " "))` changed; see \(name)")
    }
}
