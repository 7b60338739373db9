import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// Committed sink output is never removed ahead of what replaces it: not after `topics delete`, not
/// after `groups reset-offsets --to-earliest` followed by a run that fails half-way. (The review's
/// findings after the first round of the reliability issue.)
@Suite struct CommittedOutputTests {
    /// The samples into `out/orders`, as the repository's config does.
    static func samplesRun() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: EndToEnd.repositoryRoot + "/samples", toPath: dir.file("samples"))
        try FileManager.default.copyItem(
            atPath: EndToEnd.repositoryRoot + "/config.json", toPath: dir.file("config.json"))
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        return dir
    }

    static func orderIds(_ dir: TemporaryDirectory) throws -> [Int64] {
        try SinkPipelineTests.orderIds(in: dir.file("out/orders")).sorted()
    }

    @Test func deletingTheTopicKeepsTheOutputAndAResetReadsItAgainOnce() throws {
        let dir = try Self.samplesRun()
        let before = try Self.orderIds(dir)
        #expect(before.count == 3_995)
        try EndToEnd.sluice(["topics", "delete", "orders"], in: dir.path)

        // The source's files were read into a topic that is gone: it says so, and reads nothing.
        let after = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(after.stderr.contains("deleted and created again"), "\(after.stderr)")
        #expect(try Self.orderIds(dir) == before, "the files of the deleted topic's records stay")

        try EndToEnd.sluice(["sources", "reset", "orders", "--execute"], in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        let again = try Self.orderIds(dir)
        #expect(again == before, "read into the new topic once, the old files replaced")
    }

    @Test func aResetThenAFailingRunRemovesNothingItDidNotReplace() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: EndToEnd.repositoryRoot + "/samples", toPath: dir.file("samples"))
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 4, "segment_bytes": 60000}},
             "sources": {"orders": {"type": "csv", "path": "samples/orders-*.csv*", "key": ["order_id"],
                                    "max_batch_rows": 50, "columns": {"order_id": "int", "amount": "decimal",
                                    "ordered_at": "timestamp"}}},
             "sinks": {"orders-files": {"type": "file", "topics": ["orders"], "path": "out/orders",
                                        "max_batch_records": 200}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        let before = try Self.orderIds(dir)
        #expect(before.count == 3_995)
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "orders-files", "--topic", "orders", "--to-earliest", "--execute"],
            in: dir.path)
        // A closed segment of partition 0 is damaged: the run delivers part of it again, then stops.
        let segments = try FileSystem.contentsOfDirectory(dir.file("data/orders-0")).filter { $0.hasSuffix(".log") }
        #expect(segments.count >= 3)
        let damaged = dir.file("data/orders-0/" + segments[1])
        var bytes = try FileSystem.readFile(damaged)
        bytes[bytes.count / 2] ^= 0xFF
        try FileSystem.writeAtomically(damaged, bytes)
        let failed = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 1)
        #expect(failed.stderr.contains("CRC"))
        #expect(Set(try Self.orderIds(dir)).isSuperset(of: before), "every committed record is still in the output")
    }

    /// A config read from a pipe takes its relative paths from the current folder, not from /dev/fd.
    @Test func aConfigFromAPipeTakesRelativePathsFromTheCurrentFolder() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        let config = #"{"sources": {"in": {"type": "csv", "path": "in.csv"}}}"#
        let validated = try EndToEnd.sluice(["validate", "-"], in: dir.path, stdin: config)
        #expect(validated.stdout.contains("Data directory: \(dir.path)/data"), "\(validated.stdout)")
        try EndToEnd.sluice(["run", "/dev/stdin"], in: dir.path, stdin: config)
        #expect(FileSystem.isDirectory(dir.file("data/in-0")))
    }

    /// A reset into the middle of the files (--to-offset, --shift-by), then a run: the task delivers from
    /// the start of each file the reset cut through and writes it whole again, so every row is in the
    /// output once.
    @Test(arguments: [
        ["--topic", "orders:0", "--to-offset", "500"], ["--topic", "orders", "--shift-by", "-300"],
        ["--topic", "orders", "--to-earliest"],
    ])
    func aResetIntoTheMiddleOfAFileEndsWithEveryRowOnce(reset: [String]) throws {
        let dir = try Self.samplesRun()
        let before = try Self.orderIds(dir)
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "orders-files"] + reset + ["--execute"], in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(try Self.orderIds(dir) == before, "\(reset)")
    }

    /// Output of a topic deleted and created again with fewer records stays (it was committed), and the
    /// run says the folder holds files its group never committed.
    @Test func filesTheGroupNeverCommittedAreNamedInAWarning() throws {
        let dir = try Self.samplesRun()
        try EndToEnd.sluice(["topics", "delete", "orders"], in: dir.path)
        try FileSystem.removeFile(dir.file("samples/orders-2026-03.csv.gz"))
        try EndToEnd.sluice(["sources", "reset", "orders", "--execute"], in: dir.path)
        let run = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(run.stderr.contains("never committed"), "\(run.stderr)")
    }
}
