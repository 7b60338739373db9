import FuzzSupport
import SluiceCSV
import SluiceCore

// Fuzzes `CSVParser.parseRow` the way `FileReader` drives it: the text arrives in chunks of random
// sizes, an incomplete row is kept and parsed again with more, and `final` comes once the input is
// exhausted. Checks that every outcome stays inside the buffer and moves forward, that the fields of
// a row lie in order inside it, that unescaping never grows a field, and that the rows found do not
// depend on where the chunks were cut (the same input parsed from one buffer gives the same rows).
//
// Input: one byte each for the delimiter, quote and escape choices, 8 bytes seeding the chunk sizes,
// then the CSV text.

/// What the parser found, in offsets of the whole text, so that chunked and whole runs compare.
enum Event: Equatable {
    case row(end: Int, next: Int, lineBreaks: Int, fields: [Span], values: [[UInt8]])
    case blank(next: Int, lineBreaks: Int)
    case unterminatedQuote(start: Int, lineBreaks: Int)
}

/// A field's place in the whole text.
struct Span: Equatable {
    var start: Int
    var end: Int
    var kind: CSVField.Kind
}

/// A dialect picked by three bytes, mostly common ones; nil when the config would refuse it.
func dialect(_ input: inout FuzzInput) -> CSVDialect? {
    let d = input.byte()
    let q = input.byte()
    let e = input.byte()
    let delimiter = d < 0x80 ? [UInt8(ascii: ","), 0x09, UInt8(ascii: ";"), UInt8(ascii: "|")][Int(d) % 4] : d
    let quote = q < 0x80 ? [UInt8(ascii: "\""), UInt8(ascii: "'")][Int(q) % 2] : q
    let escape: UInt8? = e < 0x40 ? nil : e < 0x80 ? UInt8(ascii: "\\") : e
    for byte in [delimiter, quote, escape ?? delimiter] where byte == 0x0A || byte == 0x0D { return nil }
    guard quote != delimiter, escape != delimiter else { return nil }
    return CSVDialect(delimiter: delimiter, quote: quote, escape: escape)
}

/// Parses `text`, fed in chunks whose sizes `nextChunk` gives, and checks every outcome.
func parse(_ text: [UInt8], _ dialect: CSVDialect, _ nextChunk: () -> Int) -> [Event] {
    var parser = CSVParser(dialect: dialect)
    var events: [Event] = []
    var storage: [UInt8] = []
    var base = 0
    var position = 0
    var fed = 0
    var eof = false
    var steps = 0
    while true {
        steps += 1
        require(steps <= 4 * text.count + 16, "the parser makes no progress at offset \(base + position)")
        let outcome = storage.withUnsafeBytes { parser.parseRow($0, from: position, final: eof) }
        let count = storage.count
        switch outcome {
        case .needMore:
            require(!eof, "needMore after the final bytes, at offset \(base + position)")
            storage.removeFirst(position)
            base += position
            position = 0
            let n = min(max(1, nextChunk()), text.count - fed)
            if n == 0 {
                eof = true
            } else {
                storage += text[fed..<(fed + n)]
                fed += n
            }
        case .endOfInput:
            require(eof && position == count, "endOfInput with \(count - position) bytes left")
            return events
        case .blank(let next, let lineBreaks):
            require(next > position && next <= count, "blank line ends at \(next), outside \(position)..<\(count)")
            require(lineBreaks == 1, "a blank line counts \(lineBreaks) line breaks")
            events.append(.blank(next: base + next, lineBreaks: lineBreaks))
            position = next
        case .unterminatedQuote(let lineBreaks):
            require(eof, "unterminatedQuote before the end of the input")
            require(lineBreaks <= breaks(storage[position...]), "\(lineBreaks) line breaks counted, fewer present")
            events.append(.unterminatedQuote(start: base + position, lineBreaks: lineBreaks))
            position = count
        case .row(let end, let next, let lineBreaks):
            require(
                position <= end && end <= next && next <= count, "row \(position)..<\(end), next \(next), of \(count)")
            require(next > position, "a row at \(position) does not move forward")
            require(lineBreaks <= breaks(storage[position..<next]), "\(lineBreaks) line breaks counted, fewer present")
            require(next == end ? eof && next == count : lineBreaks >= 1, "a row ends without a line break")
            let fields = parser.fields
            require(!fields.isEmpty, "a row without fields")
            var values: [[UInt8]] = []
            var previousEnd = position
            for field in fields {
                require(field.start <= field.end, "field \(field) is reversed")
                require(
                    field.start >= previousEnd && field.end <= end, "field \(field) outside \(previousEnd)..<\(end)")
                previousEnd = field.end
                var value: [UInt8] = []
                switch field.kind {
                case .plain:
                    value = Array(storage[field.start..<field.end])
                case .quoted:
                    require(
                        field.start > position && storage[field.start - 1] == dialect.quote, "quoted field \(field)")
                    require(field.end < end && storage[field.end] == dialect.quote, "quoted field \(field) end")
                    value = Array(storage[field.start..<field.end])
                case .complex:
                    storage.withUnsafeBytes { parser.unescape($0, field, into: &value) }
                    require(value.count <= field.end - field.start, "unescaping grew field \(field)")
                }
                values.append(value)
            }
            let shifted = fields.map { Span(start: $0.start + base, end: $0.end + base, kind: $0.kind) }
            events.append(
                .row(end: base + end, next: base + next, lineBreaks: lineBreaks, fields: shifted, values: values))
            position = next
        }
    }
}

func breaks(_ bytes: ArraySlice<UInt8>) -> Int {
    bytes.reduce(0) { $0 + ($1 == 0x0A || $1 == 0x0D ? 1 : 0) }
}

func test(_ input: inout FuzzInput) {
    guard let dialect = dialect(&input) else { return }
    var random = SplitMix64(seed: input.integer(UInt64.self))
    let small = random.next() % 2 == 0
    let text = input.rest()
    let chunked = parse(text, dialect) {
        Int(small ? random.next() % 8 : random.next() % 256)
    }
    let whole = parse(text, dialect) { text.count }
    require(chunked == whole, "rows depend on where the reads were cut")
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    let dialects: [[UInt8]] = [[0, 0, 0], [1, 0, 0], [0, 1, 0x40], [2, 0, 0x40]]
    for (i, text) in CSVSeeds.texts.enumerated() {
        let prefix = dialects[i % dialects.count] + [UInt8(i), 0, 0, 0, 0, 0, 0, 1]
        seeds.append(("seed-\(i)", prefix + Array(text.utf8)))
    }
    return seeds
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    test(&input)
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
