/// The JSON envelope of a stored record, as `sluice consume --format jsonl` prints it and the file sink
/// writes it with `envelope: true`:
///
/// `{"topic":…,"partition":…,"offset":…,"timestamp":…,"key":…,"value":…,"headers":{…}}`
///
/// Keys, values and header values are JSON strings when they are valid UTF-8, `{"base64":"…"}`
/// otherwise, and `null` when absent; the timestamp is in epoch milliseconds.
public enum RecordJSON {
    /// Appends the envelope of record `index` of `block` (no newline).
    public static func appendEnvelope(
        topic: String, partition: Int32, block: RecordBlock, index: Int, to out: inout [UInt8]
    ) {
        let entry = block.entries[index]
        out.append(contentsOf: #"{"topic":"#.utf8)
        JSONWriter.appendString(topic, to: &out)
        out.append(contentsOf: #","partition":"#.utf8)
        JSONWriter.appendInteger(Int64(partition), to: &out)
        out.append(contentsOf: #","offset":"#.utf8)
        JSONWriter.appendInteger(entry.offset, to: &out)
        out.append(contentsOf: #","timestamp":"#.utf8)
        JSONWriter.appendInteger(entry.timestamp, to: &out)
        block.bytes.withUnsafeBytes { arena in
            out.append(contentsOf: #","key":"#.utf8)
            appendBytes(block.keyRange(index).map { UnsafeRawBufferPointer(rebasing: arena[$0]) }, to: &out)
            out.append(contentsOf: #","value":"#.utf8)
            appendBytes(block.valueRange(index).map { UnsafeRawBufferPointer(rebasing: arena[$0]) }, to: &out)
            out.append(contentsOf: #","headers":{"#.utf8)
            for h in 0..<block.headerCount(index) {
                if h > 0 { out.append(UInt8(ascii: ",")) }
                let (name, value) = block.headerRanges(index, h)
                JSONWriter.appendString(UnsafeRawBufferPointer(rebasing: arena[name]), to: &out)
                out.append(UInt8(ascii: ":"))
                appendBytes(value.map { UnsafeRawBufferPointer(rebasing: arena[$0]) }, to: &out)
            }
        }
        out.append(contentsOf: "}}".utf8)
    }

    /// Appends bytes as a JSON string when they are UTF-8, as `{"base64":"…"}` otherwise, or `null`.
    public static func appendBytes(_ bytes: UnsafeRawBufferPointer?, to out: inout [UInt8]) {
        guard let bytes else {
            out.append(contentsOf: "null".utf8)
            return
        }
        if UTF8Validator.isValid(bytes) {
            JSONWriter.appendString(bytes, to: &out)
        } else {
            out.append(contentsOf: #"{"base64":""#.utf8)
            Base64.append(bytes, to: &out)
            out.append(contentsOf: #""}"#.utf8)
        }
    }
}
