import Foundation
import SluiceTestSupport
import Testing

/// What a Kafka user types by habit works: `--topic` and `--group` as options, `--bootstrap-server`,
/// the `kafka-consumer-groups --reset-offsets` options, `groups delete`, `--if-not-exists`, and a
/// "did you mean" for a misspelled option or subcommand.
@Suite struct KafkaSpellingTests {
    /// Topic `t` of 2 partitions with 100 keyed records, and group `g` committed at 5 on one partition.
    static func populated() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try EndToEnd.sluice(["topics", "create", "--topic", "t", "--partitions", "2"], in: dir.path)
        let lines = (1...100).map { "k\($0)|v\($0)\n" }.joined()
        try EndToEnd.sluice(["produce", "--topic", "t", "--key-separator", "|"], in: dir.path, stdin: lines)
        try EndToEnd.sluice(
            ["consume", "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "5"], in: dir.path)
        return dir
    }

    /// The NEW-OFFSET of each row of a reset plan, by "TOPIC PARTITION".
    static func plan(_ output: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in output.split(separator: "\n").dropFirst() {
            let cells = line.split(separator: " ").map(String.init)
            guard cells.count == 5 else { continue }
            result["\(cells[0]) \(cells[1]) \(cells[2])"] = cells[4]
        }
        return result
    }

    @Test func topicCommandsTakeTopicAsAnOption() throws {
        let dir = try Self.populated()
        let described = try EndToEnd.sluice(["topics", "describe", "--topic", "t"], in: dir.path)
        #expect(described.stdout.contains("Topic: t\tPartitions: 2"))
        try EndToEnd.sluice(
            ["topics", "alter", "--topic", "t", "--partitions", "3", "--allow-key-remap"], in: dir.path)
        #expect(try EndToEnd.sluice(["topics", "describe", "t"], in: dir.path).stdout.contains("Partitions: 3"))
        // The same topic both ways is fine; two different ones are a usage error.
        try EndToEnd.sluice(["topics", "describe", "t", "--topic", "t"], in: dir.path)
        let twice = try EndToEnd.sluice(["topics", "delete", "t", "--topic", "u"], in: dir.path, expect: 2)
        #expect(twice.stderr.contains("given twice"))
        let none = try EndToEnd.sluice(["topics", "delete"], in: dir.path, expect: 2)
        #expect(none.stderr.contains("--topic TOPIC"))
        try EndToEnd.sluice(["topics", "delete", "--topic", "t"], in: dir.path)
        #expect(try EndToEnd.sluice(["topics", "list"], in: dir.path).stdout.isEmpty)
    }

    @Test func createIfNotExistsSucceedsOnAnExistingTopic() throws {
        let dir = try Self.populated()
        let again = try EndToEnd.sluice(
            ["topics", "create", "t", "--partitions", "8", "--if-not-exists"], in: dir.path)
        #expect(again.stdout.contains("exists already (2 partitions); nothing changed"))
        try EndToEnd.sluice(["topics", "create", "t"], in: dir.path, expect: 1)
        try EndToEnd.sluice(["topics", "create", "--topic", "u", "--if-not-exists"], in: dir.path)
        #expect(try EndToEnd.sluice(["topics", "list"], in: dir.path).stdout == "t\nu\n")
    }

    @Test func deleteIfExistsSucceedsWithoutTheTopic() throws {
        let dir = try Self.populated()
        let missing = try EndToEnd.sluice(["topics", "delete", "nope"], in: dir.path, expect: 2)
        #expect(missing.stderr.contains("nope"), "\(missing.stderr)")
        let quiet = try EndToEnd.sluice(["topics", "delete", "--topic", "nope", "--if-exists"], in: dir.path)
        #expect(quiet.stdout.contains("There is no topic nope; nothing changed."))
        try EndToEnd.sluice(["topics", "delete", "t", "--if-exists"], in: dir.path)
        #expect(try EndToEnd.sluice(["topics", "list"], in: dir.path).stdout == "")
    }

    @Test func groupsDescribeTakesGroupAsAnOptionAndAllGroups() throws {
        let dir = try Self.populated()
        try EndToEnd.sluice(
            ["consume", "--topic", "t", "--group", "h", "--from-beginning", "--max-messages", "1"], in: dir.path)
        let one = try EndToEnd.sluice(["groups", "describe", "--group", "g"], in: dir.path)
        #expect(one.stdout.hasPrefix("Group g: Empty"))
        #expect(one.stdout.contains("total lag 95"))
        let all = try EndToEnd.sluice(["groups", "describe", "--all-groups"], in: dir.path)
        #expect(all.stdout.contains("Group g: ") && all.stdout.contains("Group h: "))
        let missing = try EndToEnd.sluice(["groups", "describe", "--group", "gg"], in: dir.path, expect: 2)
        #expect(missing.stderr.contains("did you mean \"g\"?"))
    }

    @Test func bootstrapServerIsRefusedByCommandsThatWorkOnADataDirectoryOnly() throws {
        let dir = try Self.populated()
        for command in [
            ["sources", "list"], ["topics", "delete", "t"], ["groups", "delete", "g"],
            ["topics", "alter", "t", "--partitions", "2"],
        ] {
            let result = try EndToEnd.sluice(
                command + ["--bootstrap-server", "localhost:9092"], in: dir.path, expect: 2)
            #expect(result.stderr.contains("--bootstrap-server: this command works on the embedded"), "\(command)")
            #expect(result.stderr.contains("use Kafka's own tools"), "\(command)")
        }
        let listed = try EndToEnd.sluice(["topics", "list"], in: dir.path)
        #expect(listed.stdout == "t\n", "nothing was created")
    }

    @Test func resetOffsetsTakesTheKafkaOptions() throws {
        let dir = try Self.populated()
        let base = ["groups", "reset-offsets", "--group", "g"]
        // --dry-run is the default, and contradicts --execute.
        let dry = try EndToEnd.sluice(base + ["--topic", "t", "--to-latest", "--dry-run"], in: dir.path)
        #expect(dry.stdout.contains("plan only"))
        let contradiction = try EndToEnd.sluice(
            base + ["--topic", "t", "--to-latest", "--dry-run", "--execute"], in: dir.path, expect: 2)
        #expect(contradiction.stderr.contains("contradict"))
        #expect(try EndToEnd.sluice(["groups", "describe", "g"], in: dir.path).stdout.contains("total lag 95"))

        // --to-current keeps the commit, the end where there is none.
        let current = try Self.plan(EndToEnd.sluice(base + ["--all-topics", "--to-current"], in: dir.path).stdout)
        let described = try EndToEnd.sluice(["groups", "describe", "g"], in: dir.path).stdout
        let rows = GroupLagEndToEndTests.rows(described)
        for row in rows {
            #expect(current["g t \(row[1])"] == (row[2] == "-" ? row[3] : row[2]))
        }

        // --by-duration: every record is younger than an hour, none younger than now.
        let hour = try Self.plan(
            EndToEnd.sluice(base + ["--all-topics", "--by-duration", "PT1H"], in: dir.path).stdout)
        #expect(hour == ["g t 0": "0", "g t 1": "0"])
        let now = try Self.plan(EndToEnd.sluice(base + ["--topic", "t", "--by-duration", "PT0S"], in: dir.path).stdout)
        #expect(now == Dictionary(uniqueKeysWithValues: rows.map { ("g t \($0[1])", $0[3]) }))
        let bad = try EndToEnd.sluice(base + ["--topic", "t", "--by-duration", "1h"], in: dir.path, expect: 2)
        #expect(bad.stderr.contains("not an ISO 8601 duration"))

        // --all-groups --all-topics --execute moves every group on its topics.
        try EndToEnd.sluice(
            ["consume", "--topic", "t", "--group", "h", "--from-beginning", "--max-messages", "1"], in: dir.path)
        let executed = try EndToEnd.sluice(
            ["groups", "reset-offsets", "--all-groups", "--all-topics", "--to-earliest", "--execute"], in: dir.path)
        #expect(executed.stdout.contains("Offsets of groups g, h reset."))
        let all = try EndToEnd.sluice(["groups", "describe", "--all-groups"], in: dir.path).stdout
        #expect(all.split(separator: "\n").filter { $0.contains("total lag 100") }.count == 2)
        let both = try EndToEnd.sluice(
            base + ["--all-groups", "--topic", "t", "--to-earliest"], in: dir.path, expect: 2)
        #expect(both.stderr.contains("not both"))

        // As with kafka-consumer-groups, a group without offsets yet can be given some.
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "fresh", "--topic", "t:0", "--to-offset", "3", "--execute"],
            in: dir.path)
        let fresh = try EndToEnd.sluice(["groups", "describe", "fresh"], in: dir.path).stdout
        #expect(GroupLagEndToEndTests.rows(fresh).map { $0[2] } == ["3", "-"])
    }

    @Test func groupsDeleteForgetsAnIdleGroupAndRefusesARunningOne() throws {
        let dir = try Self.populated()
        let deleted = try EndToEnd.sluice(["groups", "delete", "--group", "g"], in: dir.path)
        #expect(deleted.stdout == "Deleted consumer group g.\n")
        #expect(try EndToEnd.sluice(["groups", "list"], in: dir.path).stdout.isEmpty)
        let missing = try EndToEnd.sluice(["groups", "delete", "g"], in: dir.path, expect: 2)
        #expect(missing.stderr.contains("consumer group \"g\" does not exist"))

        try EndToEnd.sluice(
            ["consume", "--topic", "t", "--group", "live", "--from-beginning", "--max-messages", "1"], in: dir.path)
        let consumer = try LiveGroupConsumer(topic: "t", group: "live", in: dir.path)
        defer { consumer.stop() }
        let refused = try EndToEnd.sluice(["groups", "delete", "live"], in: dir.path, expect: 1)
        #expect(refused.stderr.contains("group live is running"))
        #expect(refused.stderr.contains("process \(consumer.pid)"))
        #expect(refused.stderr.contains("run again:\n  sluice groups delete live\n"))
        consumer.stop()
        try EndToEnd.sluice(["groups", "delete", "live"], in: dir.path)
    }

    @Test func misspelledSubcommandsAndOptionsGetADidYouMean() throws {
        let dir = try Self.populated()
        for (arguments, hint) in [
            (["topics", "lst"], "Did you mean 'list'?"),
            (["topcs", "list"], "Did you mean 'topics'?"),
            (["groups", "describ", "g"], "Did you mean 'describe'?"),
            (["groups", "describe", "--grup", "g"], "Did you mean '--group'?"),
            (["groups", "reset-offsets", "--group", "g", "--topc", "t", "--to-earliest"], "Did you mean '--topic'?"),
            (
                ["groups", "reset-offsets", "--group", "g", "--topic", "t", "--to-curent"],
                "Did you mean '--to-current'?"
            ),
            (["topics", "create", "x", "--if-not-exist"], "Did you mean '--if-not-exists'?"),
            (["topics", "--describe"], "Did you mean the subcommand 'describe'? (sluice topics describe)"),
        ] {
            let result = try EndToEnd.sluice(arguments, in: dir.path, expect: 2)
            #expect(
                result.stderr.split(separator: "\n").first?.contains(hint) == true, "\(arguments): \(result.stderr)")
        }
    }
}
