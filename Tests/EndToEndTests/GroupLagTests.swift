import Foundation
import SluiceTestSupport
import Testing

/// `sluice groups describe` counts every record a group has still to read: partitions without a commit
/// from their log start, and a running group's lag while its process holds the data directory.
@Suite struct GroupLagEndToEndTests {
    /// A data directory with topic `t` of 4 partitions holding 1,000 keyed records.
    static func populated() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "t", "--partitions", "4"], in: dir.path)
        let lines = (1...1000).map { "k\($0)|v\($0)\n" }.joined()
        try EndToEnd.sluice(["produce", "--topic", "t", "--key-separator", "|"], in: dir.path, stdin: lines)
        return dir
    }

    /// The data rows of `groups describe` (after its summary and header lines).
    static func rows(_ output: String) -> [[String]] {
        output.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ").map(String.init) }
    }

    @Test func partitionsWithoutACommitCountFromTheLogStart() throws {
        let dir = try Self.populated()
        try EndToEnd.sluice(
            ["consume", "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "10"], in: dir.path)
        let described = try EndToEnd.sluice(["groups", "describe", "g"], in: dir.path)
        #expect(described.stdout.contains("total lag 990"), "\(described.stdout)")
        let rows = Self.rows(described.stdout)
        #expect(rows.count == 4)
        // One partition has the commit; the three others show "-" and count their every record.
        #expect(rows.filter { $0[2] == "-" }.count == 3)
        #expect(rows.filter { $0[2] == "-" }.allSatisfy { $0[3] == $0[4] })
        #expect(rows.compactMap { Int($0[4]) }.reduce(0, +) == 990)
    }

    @Test func aRunningGroupShowsItsLagFromAnotherProcess() throws {
        let dir = try Self.populated()
        let consumer = try LiveGroupConsumer(topic: "t", group: "live", in: dir.path)
        defer { consumer.stop() }
        let described = try EndToEnd.sluice(["groups", "describe", "live"], in: dir.path)
        #expect(described.stdout.contains("Stable generation 1, 1 member(s), total lag 1000"), "\(described.stdout)")
        #expect(Self.rows(described.stdout).count == 4)
        #expect(Self.rows(described.stdout).allSatisfy { $0[2] == "-" && $0[5].hasPrefix("live-") })
    }

    /// A sink whose first batch failed never committed: with --config naming it, its group is described
    /// with the lag of everything waiting; a group nothing knows is still refused, with exit 2.
    @Test func aConfiguredGroupThatNeverCommittedIsDescribed() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id\n" + (1...300).map { "\($0)\n" }.joined(), to: "in.csv", in: dir.path)
        try EndToEnd.write("not a folder", to: "blocked", in: dir.path)
        try EndToEnd.write(
            """
            {"sources": {"s": {"type": "csv", "path": "in.csv", "topic": "t"}},
             "sinks": {"out": {"type": "file", "topics": ["t"], "path": "blocked/out"}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.write(
            #"{"sources": {"s": {"type": "csv", "path": "in.csv", "topic": "t"}}}"#, to: "source.json", in: dir.path)
        try EndToEnd.sluice(["run", "source.json"], in: dir.path)
        let described = try EndToEnd.sluice(["groups", "describe", "out", "--config", "config.json"], in: dir.path)
        #expect(described.stdout.contains("total lag 300"), "\(described.stdout)")
        let unknown = try EndToEnd.sluice(["groups", "describe", "nobody"], in: dir.path, expect: 2)
        #expect(unknown.stderr.contains("does not exist"))
    }
}
