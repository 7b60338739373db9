import SluiceCore
import SluiceKit

/// What a run did, as `sluice run` prints it at the end.
public struct RunSummary: Sendable {
    public struct TopicCounts: Sendable {
        public var name: String
        /// Records stored per partition.
        public var records: [Int64]
        /// Records added per partition in this run.
        public var added: [Int64]
    }

    /// What one sink did, all its tasks together.
    public struct SinkReport: Sendable {
        public var name: String
        public var tasks: Int
        public var consumed: Int
        public var written: Int
        public var deadLettered: Int
        public var retries: Int
        public var commits: Int
        /// How far the group's committed offsets moved in this run, over all its partitions.
        public var committedAdvance: Int
        public var seconds: Double
        /// The sink's `max_dead_letter_percent`.
        public var maxDeadLetterPercent = 100
        /// Where it writes: `table public.orders`, `folder out`.
        public var destination: String?
        /// Rows inserted and updated, from sinks that tell them apart (upserts).
        public var writeCounts: SinkWriteCounts?
        /// Paused (`sluice pause`): it did not run, and this many records of its topics wait for it.
        public var pausedWithLag: Int64?
    }

    var sources: [SourceTask.Report]
    public var sinks: [SinkReport]
    public var topics: [TopicCounts]
    public var seconds: Double

    /// Source reports with one name (a source stopped and started again by a reload) as one.
    static func merged(_ reports: [SourceTask.Report]) -> [SourceTask.Report] {
        var merged: [SourceTask.Report] = []
        for report in reports {
            guard let index = merged.firstIndex(where: { $0.name == report.name }) else {
                merged.append(report)
                continue
            }
            merged[index].progress.add(report.progress)
            merged[index].records += report.records
            merged[index].deadLetters += report.deadLetters
            merged[index].seconds = max(merged[index].seconds, report.seconds)
        }
        return merged
    }

    /// Adds what an earlier run did (a daemon's pipeline before a reload started it again), so that the
    /// summary covers both: counts add up, topics keep this run's sizes.
    public mutating func add(earlier: RunSummary) {
        sources = Self.merged(earlier.sources + sources)
        for sink in earlier.sinks {
            guard let index = sinks.firstIndex(where: { $0.name == sink.name }) else {
                sinks.insert(sink, at: 0)
                continue
            }
            sinks[index].consumed += sink.consumed
            sinks[index].written += sink.written
            sinks[index].deadLettered += sink.deadLettered
            sinks[index].retries += sink.retries
            sinks[index].commits += sink.commits
            sinks[index].committedAdvance += sink.committedAdvance
            sinks[index].seconds += sink.seconds
            if let counts = sink.writeCounts {
                sinks[index].writeCounts = (sinks[index].writeCounts ?? SinkWriteCounts()) + counts
            }
        }
        for topic in earlier.topics {
            guard let index = topics.firstIndex(where: { $0.name == topic.name }) else { continue }
            for (partition, added) in topic.added.enumerated() where partition < topics[index].added.count {
                topics[index].added[partition] += added
            }
        }
        seconds += earlier.seconds
    }

    /// Records dead-lettered by sources and sinks.
    public var deadLettered: Int { rowsDeadLettered + sinks.reduce(0) { $0 + $1.deadLettered } }

    public var rowsRead: Int { sources.reduce(0) { $0 + $1.progress.rowsRead } }
    public var rowsDeadLettered: Int { sources.reduce(0) { $0 + $1.progress.rowsDeadLettered } }

    /// The summary as text, one section per sources and topics.
    public func render() -> String {
        var lines: [String] = []
        if !sources.isEmpty { lines.append("Sources:") }
        for source in sources {
            let p = source.progress
            let rate = source.seconds > 0 ? Double(p.rowsRead) / source.seconds : 0
            var line = "  \(source.name): "
            // Sources that do not read files (an external connector) have no file count to show.
            if p.files > 0 || p.filesDone > 0 || p.rowsRead == 0 { line += "\(Format.count(p.filesDone, "file")), " }
            line += "\(Format.count(p.rowsRead, "row")) read, \(Format.count(source.records, "record")), "
            line += "\(Format.count(p.rowsDeadLettered)) dead-lettered"
            if p.rowsSkipped > 0 { line += ", \(Format.count(p.rowsSkipped)) already stored (skipped)" }
            line += ", \(Format.bytes(p.bytesRead)) read, \(Format.count(Int(rate))) rows/s"
            if p.filesHeldBack > 0 {
                line +=
                    "\n    \(p.filesHeldBack) file\(p.filesHeldBack == 1 ? " ends" : "s end") inside a row (no line break "
                line += "after the last line): held back until it is complete; set files_complete: true if the "
                line += "files are finished"
            }
            lines.append(line)
        }
        if !sinks.isEmpty { lines.append("Sinks:") }
        for sink in sinks {
            if let lag = sink.pausedWithLag {
                lines.append(
                    "  \(sink.name): paused, \(Format.count(Int(lag), "record")) waiting in its topics "
                        + "(`sluice resume \(sink.name)` resumes it)")
                continue
            }
            let rate = sink.seconds > 0 ? Double(sink.written + sink.deadLettered) / sink.seconds : 0
            var share = ""
            if sink.deadLettered > 0 && sink.consumed > 0 {
                let percent = Double(sink.deadLettered) * 100 / Double(sink.consumed)
                share = " (\(format(percent, 1))%, limit \(sink.maxDeadLetterPercent)%)"
            }
            var written = "\(Format.count(sink.written)) written"
            if let counts = sink.writeCounts {
                written += " (\(Format.count(counts.inserted)) inserted, \(Format.count(counts.updated)) updated"
                if counts.deleted > 0 { written += ", \(Format.count(counts.deleted)) deleted" }
                let unchanged = sink.written - counts.inserted - counts.updated - counts.deleted
                written += unchanged > 0 ? ", \(Format.count(unchanged)) unchanged)" : ")"
            }
            lines.append(
                "  \(sink.name)\(sink.destination.map { " → \($0)" } ?? ""): \(written), "
                    + "\(Format.count(sink.deadLettered)) dead-lettered\(share), "
                    + "\(Format.count(sink.retries, "retry", "retries")), \(Format.count(sink.commits, "commit")), "
                    + "\(Format.seconds(sink.seconds)), \(Format.count(Int(rate))) records/s"
                    + (sink.tasks > 1 ? " (\(sink.tasks) tasks)" : ""))
        }
        lines.append("Topics:")
        for topic in topics {
            let total = topic.records.reduce(0, +)
            let added = topic.added.reduce(0, +)
            let partitions = topic.records.enumerated().map { "p\($0)=\(Format.count(Int($1)))" }.joined(separator: " ")
            lines.append(
                "  \(topic.name): \(Format.count(Int(total), "record")) (+\(Format.count(Int(added))) this run): \(partitions)"
            )
        }
        let rows = rowsRead
        let records = sources.reduce(0) { $0 + $1.records }
        let dead = sources.reduce(0) { $0 + $1.deadLetters }
        lines.append(
            "Rows read \(Format.count(rows)) = \(Format.count(records)) delivered + "
                + "\(Format.count(dead)) dead-lettered"
                + (rows == records + dead ? "" : "  (MISMATCH)") + " in \(Format.seconds(seconds))")
        for sink in sinks where sink.pausedWithLag == nil {
            let handled = sink.written + sink.deadLettered
            lines.append(
                "Sink \(sink.name): \(Format.count(sink.committedAdvance, "record")) committed = "
                    + "\(Format.count(sink.written)) written + \(Format.count(sink.deadLettered)) dead-lettered"
                    + (handled == sink.committedAdvance
                        ? ""
                        : "  (\(Format.count(handled - sink.committedAdvance)) delivered twice "
                            + "after a rebalance or retry)"))
        }
        return lines.joined(separator: "\n")
    }

    /// The summary as one JSON object (`sluice run --summary json`), for scripts: the same figures as
    /// `render()`, unformatted.
    public func json() -> JSONValue {
        func number(_ value: Int) -> JSONValue { .number(String(value)) }
        func number(_ value: Int64) -> JSONValue { .number(String(value)) }
        func number(_ value: Double) -> JSONValue { .number(format(value, 3)) }
        let sourceList = sources.map { source -> JSONValue in
            let p = source.progress
            return .object([
                ("name", .string(source.name)), ("files", number(p.filesDone)), ("rows_read", number(p.rowsRead)),
                ("records", number(source.records)), ("dead_lettered", number(source.deadLetters)),
                ("rows_skipped", number(p.rowsSkipped)), ("files_held_back", number(p.filesHeldBack)),
                ("bytes_read", number(p.bytesRead)), ("seconds", number(source.seconds)),
            ])
        }
        let sinkList = sinks.map { sink -> JSONValue in
            var members: [(String, JSONValue)] = [
                ("name", .string(sink.name)), ("destination", sink.destination.map(JSONValue.string) ?? .null),
                ("tasks", number(sink.tasks)), ("consumed", number(sink.consumed)), ("written", number(sink.written)),
            ]
            if let counts = sink.writeCounts {
                members += [
                    ("inserted", number(counts.inserted)), ("updated", number(counts.updated)),
                    ("deleted", number(counts.deleted)),
                ]
            }
            members += [
                ("dead_lettered", number(sink.deadLettered)), ("retries", number(sink.retries)),
                ("commits", number(sink.commits)), ("committed", number(sink.committedAdvance)),
                ("seconds", number(sink.seconds)),
            ]
            if let lag = sink.pausedWithLag { members += [("paused", .bool(true)), ("waiting", number(Int(lag)))] }
            return .object(members)
        }
        let topicList = topics.map { topic -> JSONValue in
            .object([
                ("name", .string(topic.name)), ("records", number(topic.records.reduce(0, +))),
                ("added", number(topic.added.reduce(0, +))),
                ("partitions", .array(topic.records.map { number($0) })),
            ])
        }
        return .object([
            ("rows_read", number(rowsRead)), ("dead_lettered", number(deadLettered)), ("seconds", number(seconds)),
            ("sources", .array(sourceList)), ("sinks", .array(sinkList)), ("topics", .array(topicList)),
        ])
    }
}

/// Number formatting for people.
enum Format {
    /// `3` and `"file"` as `3 files`, `1` as `1 file`; `plural` for words that do not take an s.
    static func count(_ value: Int, _ singular: String, _ plural: String? = nil) -> String {
        count(value) + " " + (value == 1 ? singular : plural ?? singular + "s")
    }

    /// `1234567` as `1,234,567`.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1000 && unit < units.count - 1 {
            amount /= 1000
            unit += 1
        }
        return unit == 0 ? "\(value) B" : format(amount, 1) + " " + units[unit]
    }

    static func seconds(_ value: Double) -> String {
        if value < 60 { return format(value, 2) + " s" }
        let total = Int(value)
        return "\(total / 60)m\(total % 60)s"
    }
}
