import Glibc
import SluiceBroker
import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

/// A data directory whose state was damaged (a lost topic list, a missing partition folder, a crash in
/// the middle of a topic change, a corrupt offsets log) is never read as "nothing there": the broker
/// refuses to open or to use the damaged part, names it, and changes nothing; interrupted changes it
/// recorded itself are finished.
@Suite struct DamagedStateTests {
    typealias Support = BrokerTestSupport

    /// A closed data directory with topic `t` (3 partitions, 60 records) and a commit of group `g`.
    static func populated() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("t", config: TopicConfig(partitions: 3))
        try Support.produce(broker, "t", count: 60)
        try broker.setCommittedOffsets("g", [TopicPartition("t", 0): 5])
        try broker.close()
        return dir
    }

    static func storageError(_ body: () throws -> Void) -> BrokerError? {
        do {
            try body()
        } catch let error as BrokerError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return nil
    }

    /// Every file under `directory` with its bytes, to check that nothing changed.
    static func snapshot(_ directory: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try FileSystem.contentsOfDirectory(directory) where name != ".lock" {
            let path = directory + "/" + name
            if FileSystem.isDirectory(path) {
                for (inner, bytes) in try snapshot(path) { result[name + "/" + inner] = bytes }
            } else {
                result[name] = try FileSystem.readFile(path)
            }
        }
        return result
    }

    @Test func aMissingTopicListWithPartitionFoldersIsRefused() throws {
        let dir = try Self.populated()
        try FileSystem.removeFile(dir.file("__topics.json"))
        let before = try Self.snapshot(dir.path)
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.code == .storage)
        #expect(error?.message.contains("t-0") == true)
        #expect(error?.message.contains("missing") == true)
        #expect(try Self.snapshot(dir.path) == before, "nothing was created or removed")
    }

    @Test func aFolderTheListDoesNotDescribeIsRefused() throws {
        let dir = try Self.populated()
        try FileSystem.createDirectory(dir.file("t-3"))
        try FileSystem.createDirectory(dir.file("other-0"))
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.message.contains("t-3") == true)
        #expect(error?.message.contains("other-0") == true)
    }

    @Test func aMissingPartitionFolderIsAnErrorNeverAnEmptyPartition() throws {
        let dir = try Self.populated()
        try FileSystem.removeTree(dir.file("t-1"))
        let broker = try Broker(dataDirectory: dir.path)
        let error = Self.storageError { _ = try broker.offsets(TopicPartition("t", 1)) }
        #expect(error?.code == .storage)
        #expect(error?.message.contains("t-1") == true)
        #expect(!FileSystem.exists(dir.file("t-1")))
        // The topic can still be deleted, to start it over.
        try broker.deleteTopic("t")
        #expect(!FileSystem.exists(dir.file("t-0")))
    }

    @Test func aPartitionWithoutSegmentsIsAnError() throws {
        let dir = try Self.populated()
        for name in try FileSystem.contentsOfDirectory(dir.file("t-2")) {
            try FileSystem.removeFile(dir.file("t-2/" + name))
        }
        let broker = try Broker(dataDirectory: dir.path)
        let error = Self.storageError { _ = try broker.offsets(TopicPartition("t", 2)) }
        #expect(error?.message.contains("no segment") == true)
        #expect(try FileSystem.contentsOfDirectory(dir.file("t-2")).isEmpty)
    }

    @Test func aDamagedTopicListIsRefused() throws {
        let dir = try Self.populated()
        let path = dir.file("__topics.json")
        let original = try FileSystem.readFile(path)
        // A flipped bit that leaves valid JSON: 3 partitions become 2.
        let text = String(decoding: original, as: UTF8.self)
        let changed = text.replacingOccurrences(of: "\"partitions\": 3", with: "\"partitions\": 2")
        #expect(changed != text)
        try FileSystem.writeAtomically(path, Array(changed.utf8))
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.message.contains("checksum") == true)
        try FileSystem.writeAtomically(path, Array(original.prefix(original.count / 2)))
        #expect(Self.storageError { _ = try Broker(dataDirectory: dir.path) }?.message.contains("JSON") == true)
    }

    /// A crash after the topic was marked for deletion and some of it removed: the next open finishes
    /// the deletion, offsets included, and the name can be used again.
    @Test func anInterruptedDeletionIsFinishedOnOpen() throws {
        let dir = try Self.populated()
        let path = dir.file("__topics.json")
        var metadata = try JSONValue.parse(FileSystem.readFile(path))
        guard case .object(var top) = metadata, let index = top.firstIndex(where: { $0.0 == "topics" }),
            case .object(var topics) = top[index].1, let t = topics.firstIndex(where: { $0.0 == "t" }),
            case .object(var fields) = topics[t].1
        else {
            Issue.record("unexpected metadata \(metadata)")
            return
        }
        fields.append(("state", .string("deleting")))
        topics[t].1 = .object(fields)
        top[index].1 = .object(topics)
        top.removeAll { $0.0 == "checksum" }
        metadata = .object(top)
        try FileSystem.writeAtomically(path, Array(metadata.serialized().utf8))
        try FileSystem.rename(dir.file("t-0"), to: dir.file("t-0.deleted"))

        let broker = try Broker(dataDirectory: dir.path)
        #expect(broker.topicConfig("t") == nil)
        #expect(broker.committedOffsets("g").isEmpty)
        for name in ["t-0", "t-1", "t-2", "t-0.deleted"] { #expect(!FileSystem.exists(dir.file(name)), "\(name)") }
        try broker.createTopic("t", config: TopicConfig(partitions: 1))
        #expect(try broker.offsets(TopicPartition("t", 0)) == (0, 0))
    }

    /// A crash in the middle of creating a topic or adding partitions: the missing partitions are
    /// created empty on the next open.
    @Test func anInterruptedCreationIsFinishedOnOpen() throws {
        let dir = TemporaryDirectory()
        do {
            let broker = try Broker(dataDirectory: dir.path)
            try broker.createTopic("t", config: TopicConfig(partitions: 2))
            try broker.setPartitionCount("t", to: 4)
            try broker.close()
        }
        let path = dir.file("__topics.json")
        let text = String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        let marked = text.replacingOccurrences(
            of: "\"partitions\": 4", with: "\"partitions\": 4, \"state\": \"creating\"")
        let withoutChecksum = marked.split(separator: "\n").filter { !$0.contains("checksum") }.joined(separator: "\n")
        try FileSystem.writeAtomically(
            path, Array(withoutChecksum.replacingOccurrences(of: "},\n}", with: "}\n}").utf8))
        try FileSystem.removeTree(dir.file("t-3"))
        let broker = try Broker(dataDirectory: dir.path)
        #expect(FileSystem.isDirectory(dir.file("t-3")))
        #expect(try broker.describeTopic("t").count == 4)
        try broker.close()
        #expect(!String(decoding: try FileSystem.readFile(path), as: UTF8.self).contains("creating"))
    }

    @Test func creatingATopicNeverRemovesAFolder() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try FileSystem.createDirectory(dir.file("t-0"))
        try FileSystem.writeAtomically(dir.file("t-0/keep"), [1, 2, 3])
        let error = Self.storageError { try broker.createTopic("t", config: TopicConfig(partitions: 1)) }
        #expect(error?.message.contains("already exists") == true)
        #expect(FileSystem.exists(dir.file("t-0/keep")))
        #expect(broker.topicConfig("t") == nil)
    }

    /// One flipped byte in the offsets log: the broker refuses to open rather than forget the offsets.
    @Test func aCorruptOffsetsLogIsRefused() throws {
        let dir = try Self.populated()
        let segment = dir.file("__consumer_offsets-0/00000000000000000000.log")
        var bytes = try FileSystem.readFile(segment)
        bytes[bytes.count - 10] ^= 0x10
        try FileSystem.writeAtomically(segment, bytes)
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.code == .storage)
        #expect("\(error.map { "\($0)" } ?? "")".contains("CRC"))
        #expect(try FileSystem.readFile(segment) == bytes)
    }

    /// The offsets log deleted: an error, never "no offsets".
    @Test func aMissingOffsetsLogIsRefused() throws {
        let dir = try Self.populated()
        try FileSystem.removeTree(dir.file("__consumer_offsets-0"))
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.message.contains("__consumer_offsets-0") == true)
    }

    /// A group whose committed offset is past the end of a partition (the log lost records it had
    /// consumed) cannot start consuming: its members fail rather than skip ahead.
    @Test func aCommittedOffsetPastTheEndIsAnError() throws {
        let dir = try Self.populated()
        let broker = try Broker(dataDirectory: dir.path)
        let tp = TopicPartition("t", 0)
        let end = try broker.offsets(tp).end
        try broker.setCommittedOffsets("g", [tp: end + 7])
        var options = GroupConsumer.Options(group: "g", topics: ["t"])
        options.memberId = "m"
        let consumer = try GroupConsumer(broker: broker, options: options)
        var opened: [TopicPartition: Int64]?
        consumer.onPartitionsAssigned = { opened = $0 }
        let error = Self.storageError { _ = try consumer.poll(maxRecords: 10, maxBytes: 1 << 20, timeoutMillis: 10) }
        #expect(error?.code == .offsetOutOfRange)
        #expect(error?.message.contains("reset-offsets") == true)
        #expect(opened == nil, "the sink is never told to start below what was committed")
    }

    /// The offsets log truncated after a clean close (to nothing, or inside its first batch) would read
    /// as "no offsets": the end it had at the close says records were lost.
    @Test(arguments: [0, 61])
    func anOffsetsLogThatShrankSinceTheLastCloseIsRefused(length: Int) throws {
        let dir = try Self.populated()
        let segment = dir.file("__consumer_offsets-0/00000000000000000000.log")
        #expect(truncate(segment, off_t(length)) == 0)
        let error = Self.storageError { _ = try Broker(dataDirectory: dir.path) }
        #expect(error?.message.contains("when Sluice last closed it") == true)
        #expect(error?.message.contains("ends") == true)
        // Read-only commands still open it, to show what is there.
        _ = try Broker(dataDirectory: dir.path, readOnly: true)
    }

    /// Adding partitions to a topic one of whose partitions is missing does not make the missing one
    /// anew, empty: it stops.
    @Test func addingPartitionsNeverRecreatesAMissingOne() throws {
        let dir = try Self.populated()
        try FileSystem.removeTree(dir.file("t-1"))
        let broker = try Broker(dataDirectory: dir.path)
        let error = Self.storageError { try broker.setPartitionCount("t", to: 5, allowKeyRemap: true) }
        #expect(error?.message.contains("t-1") == true)
        #expect(!FileSystem.exists(dir.file("t-1")))
    }

    /// While partitions are being added (a crash interrupted it), read-only commands say so instead of
    /// asking for a backup.
    @Test func aReadOnlyBrokerSaysAPartitionIsBeingCreated() throws {
        let dir = try Self.populated()
        let path = dir.file("__topics.json")
        let text = String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        let marked = text.replacingOccurrences(
            of: "\"partitions\": 3", with: "\"partitions\": 4, \"state\": \"creating\", \"creating_from\": 3")
        let lines = marked.split(separator: "\n").filter { !$0.contains("checksum") }.joined(separator: "\n")
        try FileSystem.writeAtomically(path, Array(lines.replacingOccurrences(of: "},\n}", with: "}\n}").utf8))
        let reader = try Broker(dataDirectory: dir.path, readOnly: true)
        let error = Self.storageError { _ = try reader.offsets(TopicPartition("t", 3)) }
        #expect(error?.message.contains("is being created") == true)
        let writer = try Broker(dataDirectory: dir.path)
        #expect(try writer.offsets(TopicPartition("t", 3)) == (0, 0))
    }

    /// A topic deleted and created again is a new incarnation, with a new id.
    @Test func aTopicCreatedAgainHasANewID() throws {
        let dir = try Self.populated()
        let broker = try Broker(dataDirectory: dir.path)
        let first = try #require(broker.topicID("t"))
        try broker.deleteTopic("t")
        try broker.createTopic("t", config: TopicConfig(partitions: 1))
        let second = try #require(broker.topicID("t"))
        #expect(first != second)
        try broker.close()
        #expect(try Broker(dataDirectory: dir.path, readOnly: true).topicID("t") == second)
    }
}
