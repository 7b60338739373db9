import ArgumentParser
import Glibc
import SluiceCore
import SluiceLog
import SluiceRuntime

/// `sluice perf …`
struct Perf: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how fast the broker appends and reads.",
        discussion: """
            Examples:
              sluice perf produce --topic perf --records 5000000 --record-size 100
              sluice perf produce --topic gz --records 1000000 --record-size 1024 \\
                  --compression gzip
              sluice perf consume --topic perf
              sluice perf generate-orders --rows 1000000 --output orders.csv
              sluice perf parse orders.csv
            """,
        subcommands: [ProduceTest.self, ConsumeTest.self, ParseTest.self, GenerateOrders.self]
    )

    struct ProduceTest: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            commandName: "produce",
            abstract: "Append generated records and report records/s and MB/s.",
            discussion: """
                Records are keyless, of --record-size bytes of random printable text, sent in \
                batches of --batch-records. A missing topic is created with one partition and the \
                default settings (fsync every batch), or with --compression.

                Example:
                  sluice perf produce --topic perf --records 5000000 --record-size 100
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "The topic.")
        var topic: String

        @Option(help: "How many records to send.")
        var records: Int

        @Option(help: "The size of each record's value in bytes.")
        var recordSize: Int

        @Option(help: "Records per batch; by default as many as make about 1 MiB.")
        var batchRecords: Int?

        @Option(help: "Compression for a topic this command creates: none or gzip.")
        var compression: String?

        func validate() throws {
            guard records > 0 else { throw ValidationError("--records must be positive") }
            guard recordSize >= 0 && recordSize <= 16 << 20 else {
                throw ValidationError("--record-size must be 0 to 16 MiB")
            }
            if let batchRecords, batchRecords <= 0 { throw ValidationError("--batch-records must be positive") }
            if let compression, BatchCompression(name: compression) == nil {
                throw ValidationError("--compression must be none or gzip")
            }
        }

        func run() throws {
            let broker = try global.openBroker(readOnly: false)
            var test = ProducerPerformance(topic: topic, records: records, recordSize: recordSize)
            if let batchRecords { test.batchRecords = batchRecords }
            test.compression = compression.flatMap(BatchCompression.init(name:))
            let report = try test.run(broker: broker) { line in printToStandardError(line) }
            // Retention applies to what the test wrote, as it would in a running broker.
            try broker.applyRetention()
            try broker.close()
            print(report.summary)
            if report.records < records {
                throw CommandFailure.runtime("interrupted after \(report.records) of \(records) records")
            }
        }
    }

    struct ConsumeTest: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            commandName: "consume",
            abstract: "Read a topic from its beginning and report records/s and MB/s.",
            discussion: "Example:\n  sluice perf consume --topic perf"
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "The topic.")
        var topic: String

        @Option(help: "Stop after this many records.")
        var messages: Int?

        func run() throws {
            let broker = try global.openBroker(readOnly: true)
            var test = ConsumerPerformance(topic: topic)
            test.maxRecords = messages
            print(try test.run(broker: broker).summary)
        }
    }

    struct ParseTest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "parse",
            abstract: "Run the CSV parser alone over a file (read into memory first) and report MB/s.",
            discussion: "Example:\n  sluice perf parse orders.csv"
        )

        @Argument(help: "The CSV file.")
        var file: String

        func run() throws {
            print(try ParserPerformance(path: file).run().summary)
        }
    }

    struct GenerateOrders: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-orders",
            abstract: "Write a realistic orders CSV of a given size, the same for the same seed.",
            discussion: """
                Columns: order_id (int), customer (about 10,000 keys), ordered_at (timestamp), amount \
                (decimal), quantity (int), status, note (free text, with commas, quotes and line \
                breaks in a few percent of rows), gift (bool). About 95 bytes a row.

                Examples:
                  sluice perf generate-orders --rows 1000000 --output orders.csv
                  sluice perf generate-orders --rows 100000 --gzip --bad-every 1000 \\
                      --output orders.csv.gz
                """
        )

        @Option(help: "How many rows.")
        var rows: Int

        @Option(help: "The file to write.")
        var output: String

        @Option(help: "The random seed.")
        var seed: UInt64 = 42

        @Flag(help: "Compress the file with gzip.")
        var gzip = false

        @Option(help: "Make every Nth row bad (wrong field count or a non-numeric id); 0 for none.")
        var badEvery = 0

        func validate() throws {
            guard rows >= 0 else { throw ValidationError("--rows cannot be negative") }
            guard badEvery >= 0 else { throw ValidationError("--bad-every cannot be negative") }
        }

        func run() throws {
            var generator = SampleOrders(rows: rows, seed: seed)
            generator.badEvery = badEvery
            try generator.write(to: output, gzip: gzip)
        }
    }
}
