import SluiceCore
import SluiceKit

extension FileSink {
    /// The file sink's options: the one declaration behind validation, `sluice connectors describe file`
    /// and the table in connectors/file/README.md.
    public static let spec = ConnectorSpec(
        type: "file",
        kind: .sink,
        summary: "Writes records to files named by topic, partition and offsets; a redelivered batch rewrites "
            + "the same file.",
        options: [
            OptionSpec(
                "path", .string, required: true,
                "The folder to write in; created when missing. Nothing is written "
                    + "outside it.", example: "out/orders"),
            OptionSpec(
                "format", .choice(["jsonl", "csv"]), default: .string("jsonl"),
                "jsonl: one value per line. csv: a header row (from the first record's fields), then each "
                    + "value's fields."),
            OptionSpec(
                "compression", .choice(["none", "gzip"]), default: .string("none"), "Compress each file with gzip."),
            OptionSpec(
                "envelope", .boolean, default: .bool(false),
                "With jsonl: write each record as an object with topic, partition, offset, timestamp, key, headers "
                    + "and value."),
            OptionSpec(
                "max_file_records", .integer(min: 1, max: Int64(Int32.max)), default: .number("1000000"),
                "Start a new file after this many records."),
            OptionSpec(
                "max_file_bytes", .integer(min: 1024, max: 1 << 40), default: .number(String(256 << 20)),
                "Start a new file after this many bytes (before compression)."),
        ],
        check: { options in
            var problems: [ConfigProblem] = []
            if options.bool("envelope") == true && options.string("format") == "csv" {
                problems.append(ConfigProblem(options.path(of: "envelope"), "envelope is for format jsonl"))
            }
            if options.string("path")?.isEmpty == true {
                problems.append(ConfigProblem(options.path(of: "path"), "cannot be empty"))
            }
            return problems
        },
        claims: { options in
            options.string("path").map { [(option: "path", resource: "the folder \(FileSystem.absolute($0))")] } ?? []
        },
        preflight: { context in FileSink.preflight(context) }
    )
}
