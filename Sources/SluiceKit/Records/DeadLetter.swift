import SluiceCore

/// The headers Sluice puts on records: where a row came from, and why a record was dead-lettered.
public enum SluiceHeader {
    public static let sourceFile = "sluice.source.file"
    public static let sourceLine = "sluice.source.line"
    public static let sourceOffset = "sluice.source.offset"
    public static let errorClass = "sluice.error.class"
    public static let errorMessage = "sluice.error.message"
    public static let errorStage = "sluice.error.stage"
    public static let connector = "sluice.connector"
    public static let failedAt = "sluice.failed_at"
    public static let originalTopic = "sluice.original.topic"
    public static let originalPartition = "sluice.original.partition"
    public static let originalOffset = "sluice.original.offset"
    /// On a record `sluice dlq replay` produced again: the letter it came from, `DLQ:PARTITION:OFFSET`.
    public static let replayedFrom = "sluice.replayed_from"
}

/// Builds dead-letter records: the failed input as the value, and headers that say what failed, where
/// and when, so that the record can be understood alone and replayed once the cause is fixed.
public enum DeadLetter {
    /// Appends a dead letter for input a source could not turn into a record: `raw` is the input
    /// (a CSV row's bytes), with its file, line and offset.
    public static func appendSourceFailure(
        to block: inout RecordBlock,
        raw: UnsafeRawBufferPointer,
        errorClass: String,
        message: String,
        file: String,
        line: Int64,
        offset: Int64,
        connector: String,
        now: Int64
    ) {
        block.beginRecord(timestamp: now)
        block.setValue(block.appendBytes(raw))
        addHeader(&block, SluiceHeader.errorClass, errorClass)
        addHeader(&block, SluiceHeader.errorMessage, message)
        addHeader(&block, SluiceHeader.errorStage, "source")
        addHeader(&block, SluiceHeader.sourceFile, file)
        addHeader(&block, SluiceHeader.sourceLine, String(line))
        addHeader(&block, SluiceHeader.sourceOffset, String(offset))
        addHeader(&block, SluiceHeader.connector, connector)
        addHeader(&block, SluiceHeader.failedAt, Timestamp.iso8601(millis: now))
    }

    /// Adds a header with a text value to the current record of `block`.
    public static func addHeader(_ block: inout RecordBlock, _ name: String, _ value: String) {
        let nameRange = block.appendBytes(name.utf8)
        block.addHeader(name: nameRange, value: block.appendBytes(value.utf8))
    }
}

/// The provenance headers of an ordinary record of a source: `sluice.source.file`, the file's path
/// relative to the source's folder (absolute when the file lies outside it), and `sluice.source.line`,
/// the line its row starts on. The names and the path are put in the block's arena once per batch, and
/// each record points at them. A dead letter carries more (the absolute path, the byte offset, the
/// reason): it is read alone, and rarely; ordinary records are many, so they carry only what names them.
public struct ProvenanceHeaders {
    @usableFromInline let fileName: Range<Int>
    @usableFromInline let fileValue: Range<Int>
    @usableFromInline let lineName: Range<Int>

    public init(_ block: inout RecordBlock, file: String) {
        fileName = block.appendBytes(SluiceHeader.sourceFile.utf8)
        fileValue = block.appendBytes(file.utf8)
        lineName = block.appendBytes(SluiceHeader.sourceLine.utf8)
    }

    /// Adds the two headers to the current record.
    @inlinable
    public func addProvenance(_ block: inout RecordBlock, line: Int64) {
        block.addHeader(name: fileName, value: fileValue)
        let start = block.bytes.count
        JSONWriter.appendInteger(line, to: &block.bytes)
        block.addHeader(name: lineName, value: start..<block.bytes.count)
    }
}
