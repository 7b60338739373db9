import FuzzSupport
import SluiceCore
import SluiceRuntime

// Fuzzes `ConfigLoader.load(bytes:file:)` with the built-in connectors: parsing, `${NAME}`
// substitution, and validation of every section and connector option. A config must load or throw;
// nothing may crash. Alongside, on the same bytes: the JSON tree parser and the JSON validator (the
// one the csv source's `json` columns use) must agree on what JSON is, a parsed value must read back
// equal from its own serialization, and the UTF-8 validator must agree with the standard library's.
//
// Input: the text of a config file.

let environment = ["HOME": "/home/fuzz", "NAME": "orders", "ROWS": "500", "EMPTY": "", "DOLLAR": "$"]

enum Shared {
    static let scratch = ScratchDirectory("sluice-fuzz-config")
}

/// How deep brackets nest, counting outside strings only roughly (any `"` toggles).
func nesting(_ bytes: [UInt8]) -> Int {
    var depth = 0
    var deepest = 0
    for byte in bytes {
        if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
            depth += 1
            deepest = max(deepest, depth)
        } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
            depth -= 1
        }
    }
    return deepest
}

func checkJSON(_ bytes: [UInt8]) {
    let valid = bytes.withUnsafeBytes { JSONValidator.isValid($0) }
    let utf8 = UTF8Validator.isValid(bytes)
    require(utf8 == (String(validating: bytes, as: UTF8.self) != nil), "UTF8Validator disagrees with String")
    if let bad = bytes.withUnsafeBytes({ UTF8Validator.firstInvalidIndex($0) }) {
        require(!utf8 && bad < bytes.count, "firstInvalidIndex \(bad) for valid text")
        require(UTF8Validator.isValid(bytes[..<bad]), "the text before firstInvalidIndex \(bad) is not valid")
    }
    guard let value = try? JSONValue.parse(bytes) else {
        // The validator accepts what the parser refuses only for reasons it does not check: invalid
        // UTF-8 inside strings, or lone surrogates in \u escapes.
        let surrogates = JSONChecks.hasSurrogateEscape(bytes)
        require(!valid || !utf8 || surrogates || nesting(bytes) >= 256, "the validator accepts what parse refuses")
        return
    }
    require(valid || nesting(bytes) >= 256, "parse accepts what the validator refuses")
    let text = value.serialized()
    guard let again = try? JSONValue.parse(text) else {
        require(false, "the serialization of a parsed value does not parse: \(text.prefix(200))")
        return
    }
    require(again == value, "a parsed value changes through its serialization")
}

func test(_ bytes: [UInt8]) {
    checkJSON(bytes)
    let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: environment)
    guard let config = try? loader.load(bytes: bytes, file: Shared.scratch.file("config.json")) else { return }
    _ = config.allTopics
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    let configs = [
        #"""
        {
          "data_dir": "${DATA:-data}",
          "topics": {"orders": {"partitions": "${PARTITIONS:-3}", "retention_ms": -1, "compression": "gzip"}},
          "sources": {
            "orders": {
              "type": "csv", "path": "in/${NAME}.csv", "delimiter": "${DELIM:-;}", "quote": "'",
              "escape": "\\", "max_batch_rows": "${ROWS}", "key_separator": "$$x$${NAME}",
              "null_values": ["${NULLTEXT:-}", "a$b", "\\N"], "encoding": "latin1", "skip_rows": 1,
              "key": ["id", "day"], "columns": {"id": "int", "day": "date", "doc": "json", "f": "float"}
            },
            "plain": {"type": "csv", "path": "p/*.csv", "header": false, "column_names": ["a", "b"]}
          },
          "sinks": {
            "files": {"type": "file", "topics": ["orders", "plain"], "path": "out", "format": "csv", "tasks": 2},
            "dlq": {"type": "file", "topics": ["orders.dlq"], "path": "dlq", "envelope": true},
            "db": {"type": "postgres", "topics": ["orders"], "connection": "${DATABASE_URL:-}",
                   "table": "public.orders", "mode": "upsert"}
          }
        }
        """#,
        #"{"sorces": {}, "sources": {"o": {"type": "cvs", "path": "a.csv", "delimter": ";"}}}"#,
        #"{"topics": {"__x": {"partitions": 0}, "bad name!": {}, "s": {"retention_ms": "soon"}}, "sinks": []}"#,
        "\u{FEFF}{\"data_dir\": \"d\", \"data_dir\": 5, \"sources\": {\"a\": {\"type\": \"csv\", \"path\": \"\"}}}",
        #"[1, -0.5e+3, true, false, null, "\u00e9\ud83d\ude00\n", {"a": [{}]}]"#,
    ]
    return configs.enumerated().map { ("config-\($0)", Array($1.utf8)) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    test(FuzzInput(data, size).bytes)
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
