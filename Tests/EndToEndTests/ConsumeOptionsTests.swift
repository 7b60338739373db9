import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice consume` as a kcat user types it: `-p`/`--partition`, `-o`/`--offset`, `-f` format strings,
/// ISO 8601 timestamps, JSON values embedded in `jsonl`, and the hint when the start at the end finds
/// nothing.
@Suite struct ConsumeOptionsTests {
    /// A topic `orders` with 3 partitions; partition p holds the values `p<p>-0` … `p<p>-4`, keyed `k0` … `k4`.
    func threePartitions() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "orders", "--partitions", "3"], in: dir.path)
        for p in 0..<3 {
            let lines = (0..<5).map { "k\($0)|p\(p)-\($0)" }.joined(separator: "\n")
            try EndToEnd.sluice(
                ["produce", "-t", "orders", "-p", "\(p)", "--key-separator", "|"], in: dir.path, stdin: lines)
        }
        return dir
    }

    func consume(_ arguments: [String], in dir: TemporaryDirectory, expect status: Int32 = 0) throws
        -> SluiceBinary.Result
    {
        try EndToEnd.sluice(["consume"] + arguments, in: dir.path, expect: status)
    }

    @Test func partitionAndOffsetAsKcatTakesThem() throws {
        let dir = try threePartitions()
        let one = try consume(["-t", "orders", "-p", "1", "-o", "beginning", "-f", #"%p:%o:%s\n"#], in: dir)
        #expect(one.stdout == (0..<5).map { "1:\($0):p1-\($0)\n" }.joined())
        let fromOffset = try consume(
            ["--topic", "orders", "--partition", "2", "--offset", "3", "-f", #"%s\n"#], in: dir)
        #expect(fromOffset.stdout == "p2-3\np2-4\n")
        // -N: the last N records of each partition.
        let lastTwo = try consume(["-t", "orders", "-o", "-2", "-f", #"%p %s\n"#], in: dir)
        #expect(lastTwo.stdout == "0 p0-3\n0 p0-4\n1 p1-3\n1 p1-4\n2 p2-3\n2 p2-4\n")
        #expect(try consume(["-t", "orders", "--offset=-1", "-p", "0", "-f", #"%s\n"#], in: dir).stdout == "p0-4\n")
        let end = try consume(["-t", "orders", "-o", "end"], in: dir)
        #expect(end.stdout.isEmpty && end.stderr.isEmpty)
        let past = try consume(["-t", "orders", "-p", "0", "-o", "99"], in: dir)
        #expect(past.stdout.isEmpty)
        #expect(past.stderr.contains("orders-0: offset 99 is past the end; starting at the end, 5"))

        let missing = try consume(["-t", "orders", "-p", "3"], in: dir, expect: 2)
        #expect(missing.stderr.contains(#"topic "orders" has no partition 3; its partitions are 0 to 2"#))
        let stored = try consume(["-t", "orders", "-o", "stored"], in: dir, expect: 2)
        #expect(stored.stderr.contains("--offset stored starts at a group's committed offsets; it needs --group"))
        let both = try consume(["-t", "orders", "--from-beginning", "-o", "1"], in: dir, expect: 2)
        #expect(both.stderr.contains("--from-beginning and --offset cannot be used together"))
        let bad = try consume(["-t", "orders", "-o", "first"], in: dir, expect: 2)
        #expect(bad.stderr.contains("expected beginning, end, stored, an offset, or -N"))
    }

    @Test func aGroupStartsAtBeginningOrAtItsStoredOffsets() throws {
        let dir = try threePartitions()
        let first = try consume(["-t", "orders", "--group", "audit", "-o", "beginning", "-f", #"%s\n"#], in: dir)
        #expect(first.stdout.split(separator: "\n").count == 15)
        #expect(try consume(["-t", "orders", "--group", "audit", "-o", "stored"], in: dir).stdout.isEmpty)
        try EndToEnd.sluice(["produce", "-t", "orders", "-p", "1"], in: dir.path, stdin: "late\n")
        #expect(
            try consume(["-t", "orders", "--group", "audit", "-o", "stored", "-f", #"%s\n"#], in: dir).stdout
                == "late\n")
        let partition = try consume(["-t", "orders", "--group", "audit", "-p", "1"], in: dir, expect: 2)
        #expect(partition.stderr.contains("--partition cannot be used with --group"))
        let offset = try consume(["-t", "orders", "--group", "audit", "-o", "3"], in: dir, expect: 2)
        #expect(offset.stderr.contains("sluice groups reset-offsets --group audit --topic orders"))
    }

    @Test func formatStringsAsKcatPrintsThem() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(
            ["produce", "-t", "events", "--key-separator", "|", "-H", "source=import", "-H", "v=2"], in: dir.path,
            stdin: "k1|hello\nno key here\n")
        let result = try consume(
            ["-t", "events", "-o", "beginning", "-f", #"%t %p %o [%k] %K %s %S %h 100%%\n"#], in: dir)
        #expect(
            result.stdout
                == "events 0 0 [k1] 2 hello 5 source=import,v=2 100%\n"
                + "events 0 1 [] -1 no key here 11 source=import,v=2 100%\n")
        let tabs = try consume(["-t", "events", "-o", "beginning", "--format", #"%k\t%s\n"#], in: dir)
        #expect(tabs.stdout == "k1\thello\n\tno key here\n")
        let unknown = try consume(["-t", "events", "-f", "%s %x"], in: dir, expect: 2)
        #expect(unknown.stderr.contains("unknown directive %x"))
        let typo = try consume(["-t", "events", "--format", "jsnol"], in: dir, expect: 2)
        #expect(typo.stderr.contains("expected jsonl, value, or a format string"))
    }

    @Test func iso8601TimestampsOnRequest() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["produce", "-t", "events"], in: dir.path, stdin: "a\nb\n")
        let millis = try consume(["-t", "events", "-o", "beginning", "-f", #"%T\n"#], in: dir).stdout
            .split(separator: "\n").compactMap { Int64($0) }
        #expect(millis.count == 2)
        let iso = try consume(
            ["-t", "events", "-o", "beginning", "-f", #"%T\n"#, "--timestamp-format", "iso8601"], in: dir)
        #expect(iso.stdout == millis.map { Timestamp.iso8601(millis: $0) + "\n" }.joined())
        let jsonl = try consume(["-t", "events", "-o", "beginning", "--timestamp-format", "iso8601"], in: dir)
        let stamps = try jsonl.stdout.split(separator: "\n").map { try JSONValue.parse(String($0))["timestamp"] }
        #expect(stamps == millis.map { .string(Timestamp.iso8601(millis: $0)) })
    }

    @Test func jsonlEmbedsJSONValues() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(
            ["produce", "-t", "events"], in: dir.path, stdin: "{\"id\": 7, \"tags\": [\"a\"]}\nplain text\nnull\n")
        let lines = try consume(["-t", "events", "--from-beginning", "--format", "jsonl"], in: dir).stdout
            .split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(lines.count == 3)
        #expect(lines.first?["value"]?["id"]?.integerValue == 7)
        #expect(lines.first?["value"]?["tags"] == .array([.string("a")]))
        #expect(lines.dropFirst().first?["value"] == .string("plain text"))
        #expect(lines.last?["value"] == .string("null"))
    }

    @Test func aHintWhenTheStartAtTheEndFindsNothing() throws {
        let dir = try threePartitions()
        let all = try consume(["--topic", "orders"], in: dir)
        #expect(all.stdout.isEmpty)
        #expect(
            all.stderr.contains(
                "no new records; the topic has 15 records — use --from-beginning or --offset beginning to read them"))
        #expect(
            try consume(["--topic", "orders", "-p", "2"], in: dir).stderr.contains(
                "partition 2 of orders has 5 records"))
        let group = try consume(["--topic", "orders", "--group", "fresh"], in: dir)
        #expect(group.stderr.contains(#"group "fresh" has no committed offsets"#))
        #expect(try consume(["--topic", "orders", "--from-beginning", "--max-messages", "1"], in: dir).stderr.isEmpty)
        let empty = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "nothing"], in: empty.path)
        #expect(try consume(["--topic", "nothing"], in: empty).stderr.isEmpty)
    }

    @Test func theEarlierSpellingsStillWork() throws {
        let dir = try threePartitions()
        let values = try consume(
            ["--topic", "orders", "--from-beginning", "--format", "value", "--max-messages", "2"], in: dir)
        #expect(values.stdout == "p0-0\np0-1\n")
        let jsonl = try consume(["--topic", "orders", "--from-beginning", "--format", "jsonl"], in: dir)
        #expect(jsonl.stdout.split(separator: "\n").count == 15)
        #expect(jsonl.stdout.hasPrefix(#"{"topic":"orders","partition":0,"offset":0,"timestamp":"#))
    }
}
