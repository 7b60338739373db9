import SluiceCore
import SluiceKit

/// One file being written for one partition: first under a hidden temporary name, then flushed,
/// fsynced and renamed to its final name, which carries the topic, the partition and the first and
/// last offsets it holds. Used by one sink task's thread.
final class OutputFile {
    let folder: String
    let topicPartition: TopicPartition
    let extensionName: String
    let temporaryPath: String
    private let file: SystemFile
    private let deflater: Deflater?
    private var pending: [UInt8] = []
    private(set) var firstOffset: Int64 = -1
    private(set) var lastOffset: Int64 = -1
    private(set) var records = 0
    /// Bytes written, before compression.
    private(set) var bytes = 0
    /// For csv: the column names of the header row, once written.
    var header: JSONFieldNames?

    static let temporaryPrefix = ".sluice-tmp-"

    init(folder: String, topicPartition: TopicPartition, extensionName: String, gzip: Bool) throws {
        self.folder = folder
        self.topicPartition = topicPartition
        self.extensionName = extensionName
        temporaryPath = folder + "/" + Self.temporaryPrefix + topicPartition.description + "." + extensionName
        try FileSystem.removeFile(temporaryPath)
        file = try SystemFile.open(temporaryPath, .createNew)
        deflater = gzip ? try Deflater(level: 6) : nil
        pending.reserveCapacity(1 << 20)
    }

    /// The final name for records `first...last`: `orders-0-00000000000000000000-00000000000000004999.jsonl`.
    static func finalName(_ tp: TopicPartition, first: Int64, last: Int64, extensionName: String) -> String {
        "\(tp.topic)-\(tp.partition)-\(pad(first))-\(pad(last)).\(extensionName)"
    }

    static func pad(_ offset: Int64) -> String {
        let digits = String(offset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The topic, partition and first offset a final file name carries, when it is one of ours.
    static func parseFinalName(_ name: String, extensionName: String) -> (TopicPartition, Int64, Int64)? {
        guard name.hasSuffix("." + extensionName), !name.hasPrefix(temporaryPrefix) else { return nil }
        let stem = name.dropLast(extensionName.count + 1)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, let last = Int64(parts[parts.count - 1]), let first = Int64(parts[parts.count - 2]),
            parts[parts.count - 1].count == 20, parts[parts.count - 2].count == 20,
            let partition = Int32(parts[parts.count - 3])
        else { return nil }
        let topic = parts[0..<(parts.count - 3)].joined(separator: "-")
        return (TopicPartition(topic, partition), first, last)
    }

    /// Appends one record's line (already rendered) with its offset.
    func append(line: UnsafeRawBufferPointer, offset: Int64) throws {
        if firstOffset < 0 { firstOffset = offset }
        lastOffset = offset
        records += 1
        try write(line)
    }

    /// Appends bytes that are not a record (a CSV header row).
    func write(_ data: UnsafeRawBufferPointer) throws {
        bytes += data.count
        if let deflater {
            try deflater.compress(data, into: &pending)
        } else {
            pending.append(contentsOf: data)
        }
        if pending.count >= 1 << 20 { try drain() }
    }

    private func drain() throws {
        try file.append(pending)
        pending.removeAll(keepingCapacity: true)
    }

    /// Finishes the file: writes what is buffered, ends the gzip stream, fsyncs, and renames it to its
    /// final name. Returns that name (nil for a file that holds no record, which is removed). The
    /// caller fsyncs the folder.
    func finish() throws -> String? {
        guard records > 0 else {
            try FileSystem.removeFile(temporaryPath)
            return nil
        }
        try deflater?.finish(into: &pending)
        try drain()
        try file.sync()
        let name = Self.finalName(topicPartition, first: firstOffset, last: lastOffset, extensionName: extensionName)
        try FileSystem.rename(temporaryPath, to: folder + "/" + name)
        return name
    }

    /// Throws the file away.
    func discard() {
        try? FileSystem.removeFile(temporaryPath)
    }
}
