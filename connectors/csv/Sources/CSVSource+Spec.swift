import SluiceCore
import SluiceKit

extension CSVSource {
    /// The CSV source's options: the one declaration behind validation, `sluice connectors describe csv`
    /// and the table in connectors/csv/README.md.
    public static let spec = ConnectorSpec(
        type: "csv",
        kind: .source,
        summary: "Reads CSV files (plain or gzip) into one record per row, resuming where it stopped.",
        options: [
            OptionSpec(
                "path", .string, required: true,
                "A file, a folder (its files, not hidden ones, not those of its subfolders), or a glob (`*`, `?`, "
                    + "`[…]`, `{a,b}`, and `**` for any depth of folders, hidden ones left out); files are read in "
                    + "name order.",
                example: "samples/orders*.csv"),
            OptionSpec(
                "key", .stringList, default: .array([]),
                "Columns whose text, joined by key_separator, is the record key; no key when empty.",
                example: "[\"order_id\"]"),
            OptionSpec("key_separator", .string, default: .string("|"), "Joins the texts of several key columns."),
            OptionSpec(
                "columns", .stringMap(allowed: ColumnType.names), default: .object([]),
                "Declared types of columns: string, int, float, decimal, bool, timestamp, date or json. "
                    + "Other columns are strings.",
                example: "{\"order_id\": \"int\", \"amount\": \"decimal\"}"),
            OptionSpec(
                "delimiter", .character, default: .string(","), "The field separator; any single byte, \"\\t\" for tab."
            ),
            OptionSpec("quote", .character, default: .string("\""), "The quote character."),
            OptionSpec(
                "escape", .character,
                "A byte that makes the next one literal; when unset, a quote inside quotes is doubled (RFC 4180)."),
            OptionSpec(
                "header", .boolean, default: .bool(true), "Whether the first row (after skip_rows) names the columns."),
            OptionSpec("column_names", .stringList, "The column names when header is false; required then."),
            OptionSpec(
                "skip_rows", .integer(min: 0, max: 1_000_000), default: .number("0"),
                "Rows to skip at the start of each file, before the header."),
            OptionSpec(
                "null_values", .stringList, default: .array([]),
                "Field texts that mean null, for every column (none by default).", example: "[\"NULL\", \"\\\\N\"]"),
            OptionSpec(
                "encoding", .choice(["utf-8", "latin1"]), default: .string("utf-8"),
                "The files' encoding; latin1 is transcoded to UTF-8."),
            OptionSpec(
                "files_complete", .boolean, default: .bool(false),
                "Whether the files are finished when read. When false, a plain file that ends inside a row (a last "
                    + "line without its line break, or a quoted field still open) holds that row back until a later "
                    + "run finds it complete, since a writer may still be appending; when true, it is read as it is "
                    + "(an open quote is then a bad row). gzip files are always read as complete."),
            OptionSpec(
                "min_file_age_ms", .integer(min: 0, max: 86_400_000), default: .number("5000"),
                "How long a file must be unchanged to count as finished: its last row is then read even without a "
                    + "line break, and after_read acts on it. With done_marker set, the marker decides instead."),
            OptionSpec(
                "done_marker", .string,
                "A suffix that marks a file finished: orders.csv is finished once orders.csv.done exists (for "
                    + "\".done\"). Files ending with it are markers, not read; after_read deletes or moves the marker "
                    + "with its file.",
                example: ".done"),
            OptionSpec(
                "after_read", .string, default: .string("keep"),
                "What becomes of a file once it is finished and every row of it is durable in the broker: keep, "
                    + "delete, or move:FOLDER (on the same file system, outside path; a name already taken there "
                    + "gets .1, .2, …). Never before: a file that changed since it was read is left for the next pass.",
                example: "move:done/"),
            OptionSpec(
                "max_row_bytes", .integer(min: 1024, max: 1 << 30), default: .number(String(16 << 20)),
                "Longer rows go to the dead-letter topic (truncated to this size)."),
            OptionSpec(
                "max_batch_rows", .integer(min: 1, max: 1_000_000), default: .number("20000"),
                "Rows per batch appended to the broker."),
            OptionSpec(
                "max_batch_bytes", .integer(min: 1024, max: 1 << 30), default: .number(String(8 << 20)),
                "Input bytes per batch appended to the broker."),
        ],
        check: { options in
            var problems: [ConfigProblem] = []
            let delimiter = options.byte("delimiter")
            if options.byte("quote") == delimiter {
                // Blame the one that was changed: a delimiter set to the default quote, or the quote.
                problems.append(
                    delimiter == UInt8(ascii: "\"")
                        ? ConfigProblem(options.path(of: "delimiter"), "the delimiter cannot be the quote (\")")
                        : ConfigProblem(options.path(of: "quote"), "the quote cannot be the delimiter"))
            }
            if let escape = options.byte("escape"), escape == delimiter {
                problems.append(ConfigProblem(options.path(of: "escape"), "the escape cannot be the delimiter"))
            }
            for name in ["delimiter", "quote", "escape"] {
                if let byte = options.byte(name), byte == 0x0A || byte == 0x0D {
                    problems.append(ConfigProblem(options.path(of: name), "cannot be a line break"))
                }
            }
            let names = options.stringList("column_names")
            if options.bool("header") == false && (names ?? []).isEmpty {
                problems.append(ConfigProblem(options.path(of: "column_names"), "required when header is false"))
            }
            if options.bool("header") != false && names != nil {
                problems.append(
                    ConfigProblem(
                        options.path(of: "column_names"), "only with header: false (the header row names the columns)"))
            }
            if options.string("path")?.isEmpty == true {
                problems.append(ConfigProblem(options.path(of: "path"), "cannot be empty"))
            }
            problems += afterReadProblems(options)
            let key = options.stringList("key") ?? []
            if Set(key).count != key.count || key.contains("") {
                problems.append(ConfigProblem(options.path(of: "key"), "names a column twice, or an empty name"))
            }
            if let names {
                if Set(names).count != names.count {
                    problems.append(ConfigProblem(options.path(of: "column_names"), "names a column twice"))
                }
                for key in options.stringList("key") ?? [] where !names.contains(key) {
                    problems.append(ConfigProblem(options.path(of: "key"), "\"\(key)\" is not one of column_names"))
                }
                for (column, _) in options.stringMap("columns") ?? [] where !names.contains(column) {
                    problems.append(
                        ConfigProblem(options.path(of: "columns") + "." + column, "not one of column_names"))
                }
            }
            return problems
        },
        schema: { options in
            var types: [String: ColumnType] = [:]
            for (name, type) in options.stringMap("columns") ?? [] { types[name] = ColumnType(rawValue: type) }
            return TopicSchema(types: types, key: options.stringList("key") ?? [])
        },
        preflight: { context in CSVSource.preflight(context) }
    )

    /// What is wrong with `after_read` and `done_marker`: an unknown action, and a folder to move files
    /// to that the source would read again.
    static func afterReadProblems(_ options: ConnectorOptions) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if let marker = options.string("done_marker") {
            if marker.isEmpty || marker.contains("/") {
                problems.append(
                    ConfigProblem(options.path(of: "done_marker"), "must be a file name suffix, such as \".done\""))
            } else if let pattern = options.string("path"), pattern.hasSuffix(marker) {
                problems.append(
                    ConfigProblem(
                        options.path(of: "done_marker"),
                        "every file path \"\(pattern)\" matches ends with \"\(marker)\", so none would be read; markers "
                            + "need a suffix of their own, such as \".done\""))
            }
        }
        guard let text = options.string("after_read") else { return problems }
        guard let afterRead = AfterRead(text) else {
            problems.append(
                ConfigProblem(
                    options.path(of: "after_read"), "\"\(text)\" is not keep, delete or move:FOLDER (move:done/, say)"))
            return problems
        }
        if case .move(let folder) = afterRead, FileSystem.exists(folder), !FileSystem.isDirectory(folder) {
            problems.append(
                ConfigProblem(options.path(of: "after_read"), "\(folder) is a file, not a folder to move files into"))
        }
        if case .move(let folder) = afterRead, let pattern = options.string("path"), !pattern.isEmpty {
            let source = FileSystem.normalized(FileSystem.absolute(FileSystem.patternFolder(pattern)))
            let target = FileSystem.normalized(FileSystem.absolute(folder))
            if target == source {
                problems.append(
                    ConfigProblem(
                        options.path(of: "after_read"),
                        "moves files into the folder they are read from (\(folder)), where they would be read again; "
                            + "name another folder"))
            }
        }
        return problems
    }
}
