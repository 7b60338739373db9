import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice produce` as a kcat user types it: `-H name=value` headers, `-p`/`--partition`, and escapes in
/// `--key-separator`.
@Suite struct ProduceOptionsTests {
    func records(_ topic: String, _ dir: TemporaryDirectory) throws -> [(partition: Int32, record: Record)] {
        try EndToEnd.records(topic, dataDirectory: dir.file("data"))
    }

    @Test func headersOnEveryRecord() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(
            ["produce", "-t", "events", "-H", "source=import", "--header", "expr=a=b", "-H", "empty="], in: dir.path,
            stdin: "one\ntwo\n")
        let stored = try records("events", dir).map(\.record)
        #expect(stored.map(\.value) == [Array("one".utf8), Array("two".utf8)])
        for record in stored {
            #expect(record.headers == [Header("source", "import"), Header("expr", "a=b"), Header("empty", "")])
        }
        let bad = try EndToEnd.sluice(["produce", "-t", "events", "-H", "novalue"], in: dir.path, expect: 2, stdin: "")
        #expect(bad.stderr.contains("'novalue' is invalid for '-H <name=value>': expected name=value"))
        try EndToEnd.sluice(["produce", "-t", "events", "-H", "=x"], in: dir.path, expect: 2, stdin: "")
    }

    @Test func everyRecordToTheChosenPartition() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "orders", "--partitions", "3"], in: dir.path)
        let keyed = (0..<20).map { "key-\($0)|v\($0)" }.joined(separator: "\n")
        let result = try EndToEnd.sluice(
            ["produce", "-t", "orders", "--partition", "2", "--key-separator", "|"], in: dir.path, stdin: keyed)
        #expect(result.stderr.contains("Produced 20 records to orders partition 2."))
        // Some of these keys hash to other partitions: the user hears that the key's records are split.
        #expect(result.stderr.contains("although the key's hash picks another"))
        try EndToEnd.sluice(["produce", "-t", "orders", "-p", "0"], in: dir.path, stdin: "a\nb\nc\n")
        let stored = try records("orders", dir)
        #expect(stored.filter { $0.partition == 2 }.count == 20)
        #expect(stored.filter { $0.partition == 0 }.map(\.record.value) == ["a", "b", "c"].map { Array($0.utf8) })
        #expect(stored.filter { $0.partition == 1 }.isEmpty)
    }

    @Test func aPartitionThatDoesNotExistIsRefused() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "orders", "--partitions", "3"], in: dir.path)
        let beyond = try EndToEnd.sluice(["produce", "-t", "orders", "-p", "3"], in: dir.path, expect: 2, stdin: "x\n")
        #expect(beyond.stderr.contains(#"topic "orders" has no partition 3; its partitions are 0 to 2"#))
        #expect(try records("orders", dir).isEmpty)
        try EndToEnd.sluice(["produce", "-t", "orders", "-p", "-1"], in: dir.path, expect: 2, stdin: "x\n")
        // A topic the command would create has one partition: partition 1 is refused before it is created.
        let fresh = try EndToEnd.sluice(["produce", "-t", "fresh", "-p", "1"], in: dir.path, expect: 2, stdin: "x\n")
        #expect(fresh.stderr.contains("sluice topics create fresh --partitions 2"))
        #expect(!(try EndToEnd.sluice(["topics", "list"], in: dir.path).stdout.contains("fresh")))
        try EndToEnd.sluice(["produce", "-t", "fresh", "-p", "0"], in: dir.path, stdin: "x\n")
        #expect(try records("fresh", dir).count == 1)
    }

    @Test func escapesInTheKeySeparator() throws {
        let dir = TemporaryDirectory()
        let cases: [(separator: String, line: String)] = [
            (#"\t"#, "k1\tv1"), (#"\x1f"#, "k2\u{1f}v2"), (#"\\"#, #"k3\v3"#), (#"|\t|"#, "k4|\t|v4"),
        ]
        for (separator, line) in cases {
            try EndToEnd.sluice(["produce", "-t", "t", "--key-separator", separator], in: dir.path, stdin: line)
        }
        let stored = try records("t", dir).map(\.record)
        #expect(stored.map { String(decoding: $0.key ?? [], as: UTF8.self) } == ["k1", "k2", "k3", "k4"])
        #expect(stored.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["v1", "v2", "v3", "v4"])
        let unknown = try EndToEnd.sluice(
            ["produce", "-t", "t", "--key-separator", #"\q"#], in: dir.path, expect: 2, stdin: "")
        #expect(unknown.stderr.contains(#"invalid for '--key-separator <key-separator>': unknown escape \q"#))
    }

    /// `-Z` sends an empty value as a tombstone (no value), as kcat does; without it the value is empty.
    @Test func emptyValuesAsTombstonesWithZ() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["produce", "-t", "t", "--key-separator", "|", "-Z"], in: dir.path, stdin: "k1|\nk2|v\n")
        try EndToEnd.sluice(["produce", "-t", "t", "--key-separator", "|"], in: dir.path, stdin: "k3|\n")
        let values = try records("t", dir).map(\.record.value)
        #expect(values == [nil, Array("v".utf8), []])
    }
}
