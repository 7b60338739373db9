import SluiceConnector
import SluiceCore
import SluiceKit

/// An external sink written in Swift: appends each record as a line of JSON (`offset`, `key`, `value`)
/// to `FOLDER/TOPIC-PARTITION.jsonl`, exactly-once. A flush syncs the files, then replaces a small
/// state file with each partition's next offset and file size; a task given a partition cuts its file
/// back to the size stored (dropping what a crash left unflushed) and skips records before the offset
/// stored, so a batch is never written twice.
final class JSONLinesSink: InspectableSink {
    static let spec = ConnectorSpec(
        type: "jsonl-files", kind: .sink,
        summary: "Appends records as JSON lines, one file per topic partition, exactly-once",
        options: [
            OptionSpec("folder", .string, required: true, "The folder the files go in; made when missing.")
        ])

    struct Position {
        var next: Int64
        var size: Int64
    }

    let folder: String
    var files: [TopicPartition: SystemFile] = [:]
    var stored: [TopicPartition: Position] = [:]
    var pending: [TopicPartition: Position] = [:]
    var line: [UInt8] = []

    init(context: SinkContext) throws {
        folder = context.options.string("folder") ?? "."
        do {
            try FileSystem.createDirectory(folder)
        } catch {
            throw ConnectorError.fatal("jsonl.folder", "cannot make the folder \(folder): \(error)")
        }
        stored = loadState()
    }

    var statePath: String { folder + "/.positions" }

    func path(_ tp: TopicPartition) -> String { "\(folder)/\(tp.topic)-\(tp.partition).jsonl" }

    /// The state file: a line `TOPIC PARTITION NEXT SIZE` per partition.
    func loadState() -> [TopicPartition: Position] {
        guard let bytes = try? FileSystem.readFile(statePath) else { return [:] }
        var state: [TopicPartition: Position] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 4, let partition = Int32(parts[1]), let next = Int64(parts[2]),
                let size = Int64(parts[3])
            else { continue }
            state[TopicPartition(String(parts[0]), partition)] = Position(next: next, size: size)
        }
        return state
    }

    func open(partitions: [TopicPartition: Int64]) throws {
        for tp in partitions.keys {
            let file = try SystemFile.open(path(tp), .readWriteCreate)
            // Bytes past the stored size come from a batch that was never flushed: cut them.
            try file.truncate(to: stored[tp]?.size ?? 0)
            try file.seek(to: stored[tp]?.size ?? 0)
            files[tp] = file
        }
    }

    func close(partitions: Set<TopicPartition>) throws {
        for tp in partitions {
            files[tp] = nil
            pending[tp] = nil
        }
    }

    func write(_ batch: SinkBatch) throws -> [RecordFailure] {
        for chunk in batch.partitions {
            let tp = chunk.topicPartition
            guard let file = files[tp] else { continue }
            var position = pending[tp] ?? stored[tp] ?? Position(next: 0, size: 0)
            let block = chunk.records
            line.removeAll(keepingCapacity: true)
            for i in 0..<block.count where block.entries[i].offset >= position.next {
                line.append(contentsOf: #"{"offset":"#.utf8)
                JSONWriter.appendInteger(block.entries[i].offset, to: &line)
                line.append(contentsOf: #","key":"#.utf8)
                append(block.key(i), to: &line)
                line.append(contentsOf: #","value":"#.utf8)
                append(block.value(i), to: &line)
                line.append(contentsOf: "}\n".utf8)
                position.next = block.entries[i].offset + 1
            }
            try file.append(line)
            position.size += Int64(line.count)
            pending[tp] = position
        }
        return []
    }

    /// A value that is a JSON object as it is; anything else as a JSON string; none as null.
    func append(_ bytes: ArraySlice<UInt8>?, to out: inout [UInt8]) {
        guard let bytes else { return out.append(contentsOf: "null".utf8) }
        bytes.withUnsafeBytes { raw in
            if raw.first == UInt8(ascii: "{") && raw.last == UInt8(ascii: "}") && !raw.contains(UInt8(ascii: "\n")) {
                out.append(contentsOf: raw)
            } else {
                JSONWriter.appendString(raw, to: &out)
            }
        }
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        for tp in pending.keys { try files[tp]?.syncData() }
        for (tp, position) in pending { stored[tp] = position }
        pending.removeAll()
        let text = stored.map { "\($0.key.topic) \($0.key.partition) \($0.value.next) \($0.value.size)\n" }.joined()
        try FileSystem.syncDirectory(folder)  // the files made since the last flush
        try FileSystem.writeAtomically(statePath, Array(text.utf8))
    }

    func abort() {
        for (tp, _) in pending {
            let size = stored[tp]?.size ?? 0
            try? files[tp]?.truncate(to: size)
            try? files[tp]?.seek(to: size)
        }
        pending.removeAll()
    }

    func stop() {
        files.removeAll()
    }

    /// For `sluice connectors test`: the `id` of every value in the files, up to the sizes flushed.
    func heldRecordIDs() throws -> Set<Int64>? {
        var ids: Set<Int64> = []
        for (tp, position) in stored {
            let bytes = (try? FileSystem.readFile(path(tp))) ?? []
            let text = String(decoding: bytes.prefix(Int(position.size)), as: UTF8.self)
            for line in text.split(separator: "\n") {
                if let id = (try? JSONValue.parse(String(line)))?["value"]?["id"]?.integerValue { ids.insert(id) }
            }
        }
        return ids
    }
}
