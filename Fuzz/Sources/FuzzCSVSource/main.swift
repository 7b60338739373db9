import FuzzSupport
import Logging
import SluiceCSV
import SluiceCore
import SluiceKit

// Fuzzes the whole csv source over a fuzzed file: `FileReader` (buffering, the byte-order mark,
// oversized rows, gzip), `RowEncoder` and `FieldConverter` (every column type, null values, latin1).
// The source must read the file to its end or throw, never crash or loop; every record's value must
// be a JSON object that both JSON readers of the project read, with one member per column, in header
// order, of a kind its declared type allows; and a source resumed from the checkpoint after its first
// batch must hand out exactly the rows that followed it.
//
// Input: a flags byte (bit 0: null values; bit 1: latin1; bit 2: gzip the file; bit 3: small batches;
// bit 4: max_row_bytes at its minimum, 1024; bit 5: skip the first row; bit 6: check resuming), a byte
// picking how the columns are named (0: a typed header line is written before the text, with a key;
// 1: the text's first row is the header; 2: no header, typed column_names, with a key), three bytes
// picking the delimiter, quote and escape, then the text of the file.

enum Shared {
    static let scratch = ScratchDirectory("sluice-fuzz-csv")
    static let quiet: Logger = {
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        return logger
    }()
}

/// The typed columns of modes 0 and 2.
let typedColumns: [(name: String, type: String)] = [
    ("id", "int"), ("f", "float"), ("d", "decimal"), ("b", "bool"), ("t", "timestamp"), ("day", "date"),
    ("j", "json"), ("s", "string"),
]

/// One record or dead letter as the comparison of a resumed run sees it.
struct Row: Equatable {
    var key: [UInt8]?
    var value: [UInt8]?
    var offset: [UInt8]?
}

func rows(_ block: RecordBlock) -> [Row] {
    block.records.map { Row(key: $0.key, value: $0.value, offset: $0.header("sluice.source.offset")) }
}

/// The kinds of JSON value a column of `type` may hold.
func allowed(_ value: JSONValue, _ type: String?) -> Bool {
    switch (type ?? "string", value) {
    case (_, .null): return true
    case ("int", .number), ("float", .number), ("decimal", .number), ("bool", .bool): return true
    case ("timestamp", .string), ("date", .string), ("string", .string), ("json", _): return true
    default: return false
    }
}

func checkValue(_ value: [UInt8], _ types: [String: String]) {
    guard case .object(let members)? = try? JSONValue.parse(value) else {
        // A `json` column may hold a lone surrogate escape, which only the tree parser refuses.
        require(
            JSONChecks.hasSurrogateEscape(value),
            "a record value is not a JSON object: \(String(decoding: value.prefix(300), as: UTF8.self))")
        return
    }
    var scanned = 0
    do {
        try value.withUnsafeBytes { raw in
            try JSONObjectScanner.forEachMember(raw) { member in
                var key: [UInt8] = []
                JSONObjectScanner.appendUnescaped(raw, member.key, to: &key)
                require(scanned < members.count && key == Array(members[scanned].key.utf8), "member \(scanned) key")
                scanned += 1
                return true
            }
        }
    } catch {
        require(
            false, "JSONObjectScanner refuses a record value: \(String(decoding: value.prefix(300), as: UTF8.self))")
    }
    require(scanned == members.count, "JSONObjectScanner found \(scanned) members of \(members.count)")
    for (name, item) in members {
        require(allowed(item, types[name]), "column \(name) of type \(types[name] ?? "string") holds \(item)")
    }
}

/// Runs a source to its end; returns every row and the checkpoint after the first batch.
func run(_ options: ConnectorOptions, checkpoint: [UInt8]? = nil, types: [String: String]) throws -> (
    rows: [Row], afterFirst: [UInt8], firstCount: Int
) {
    let source = try CSVSource(
        context: SourceContext(name: "fuzz", options: options, logger: Shared.quiet, checkpoint: checkpoint))
    defer { source.close() }
    var all: [Row] = []
    var afterFirst: [UInt8] = []
    var firstCount = 0
    var batches = 0
    var more = true
    while more {
        batches += 1
        require(batches < 100_000, "the source never reaches the end of its file")
        var batch = SourceBatch()
        more = try source.nextBatch(&batch)
        for i in 0..<batch.records.count {
            if let value = batch.records.value(i) { checkValue(Array(value), types) }
        }
        // Dead letters and records come from one input in file order; merge them by offset.
        let merged = (rows(batch.records) + rows(batch.deadLetters)).sorted {
            Int64(String(decoding: $0.offset ?? [], as: UTF8.self)) ?? 0
                < Int64(String(decoding: $1.offset ?? [], as: UTF8.self)) ?? 0
        }
        all += merged
        if batches == 1 {
            afterFirst = source.checkpoint()
            firstCount = all.count
        }
    }
    return (all, afterFirst, firstCount)
}

func test(_ input: inout FuzzInput) throws {
    let flags = input.byte()
    let mode = input.byte() % 3
    let delimiter = input.pick([",", "\t", ";", "|"])
    let quote = input.pick(["\"", "'"])
    let escape = input.pick([nil, "\\"])
    var text = input.rest()

    var members: [(key: String, value: JSONValue)] = [
        ("delimiter", .string(delimiter)), ("quote", .string(quote)),
    ]
    if let escape { members.append(("escape", .string(escape))) }
    var types: [String: String] = [:]
    if mode != 1 {
        for (name, type) in typedColumns { types[name] = type }
        members.append(("columns", .object(typedColumns.map { ($0.name, JSONValue.string($0.type)) })))
        members.append(("key", .array([.string("s"), .string("id")])))
    }
    if mode == 0 {
        text = Array(typedColumns.map(\.name).joined(separator: delimiter).utf8) + [0x0A] + text
    } else if mode == 2 {
        members.append(("header", .bool(false)))
        members.append(("column_names", .array(typedColumns.map { .string($0.name) })))
    }
    if flags & 1 != 0 { members.append(("null_values", .array([.string("NULL"), .string("\\N"), .string("")]))) }
    if flags & 2 != 0 { members.append(("encoding", .string("latin1"))) }
    if flags & 8 != 0 { members.append(("max_batch_rows", .number("3"))) }
    if flags & 16 != 0 { members.append(("max_row_bytes", .number("1024"))) }
    if flags & 32 != 0 { members.append(("skip_rows", .number("1"))) }

    Shared.scratch.empty()
    let path = Shared.scratch.file("in.csv")
    if flags & 4 != 0 { text = try text.withUnsafeBytes { try Deflater.gzip($0) } }
    try ScratchDirectory.write(text, to: path)
    members.insert(("path", .string(path)), at: 0)
    let (options, problems) = CSVSource.spec.validate(members, path: "sources.fuzz")
    require(problems.isEmpty, "the harness made a bad config: \(problems)")

    guard let whole = try? run(options, types: types) else { return }
    guard flags & 64 != 0, whole.firstCount < whole.rows.count else { return }
    let resumed: [Row]
    do {
        resumed = try run(options, checkpoint: whole.afterFirst, types: types).rows
    } catch {
        require(false, "a source that read the file does not resume from its checkpoint: \(error)")
        return
    }
    require(
        Array(whole.rows[whole.firstCount...]) == resumed,
        "resuming after \(whole.firstCount) rows gives \(resumed.count) rows, not \(whole.rows.count - whole.firstCount)"
    )
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    let rows = [
        "1,1.5,2.25,true,2026-01-17T16:41:55Z,2026-01-17,{\"a\":[1,null]},text\n",
        "2, -0.0e-3 ,+007,NO,2026-01-17 16:41:55.123+02:00,2024-02-29,\"[1, \"\"x\"\"]\",\"quoted, \"\"text\"\"\"\n",
        "3,1e999,1.,maybe,2026-13-01T00:00:00Z,2026-02-30,{bad},\u{00E9}\n",
        "NULL,\\N,,,,,,\n",
        "4,5\n",
    ]
    let typed = Array(rows.joined().utf8)
    seeds.append(("typed-header", [0, 0, 0, 0, 0] + typed))
    seeds.append(("typed-names-resume", [64 | 8 | 1, 2, 0, 0, 0] + typed))
    seeds.append(("typed-gzip-latin1", [4 | 2, 0, 0, 0, 0] + typed))
    for (i, text) in CSVSeeds.texts.enumerated() {
        seeds.append(
            ("text-\(i)", [UInt8(i % 2 == 0 ? 64 | 8 : 32 | 16), 1, UInt8(i % 4), 0, UInt8(i % 2)] + Array(text.utf8)))
    }
    return seeds
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    do {
        try test(&input)
    } catch {
        fatalError("the harness failed: \(error)")
    }
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
