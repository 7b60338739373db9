import SluiceCore

/// The data directory's list of topics, `DATA/__topics.json`: each topic's partition count, setting
/// overrides and schema, and whether a change to it is under way.
///
/// The file is the truth about which partition folders must exist. It is written atomically (a new
/// file renamed over the old one, both fsynced) and carries a CRC-32C of its `topics` object, so a
/// damaged file is an error rather than a different list of topics. A change that touches folders is
/// recorded here first, as the topic's `state`, and finished on the next open when a crash
/// interrupted it:
///
/// - `creating`: partition folders may be missing (a new topic, or partitions being added); they are
///   created empty. Nothing was ever appended to them.
/// - `deleting`: the topic's committed offsets and folders are being removed; the removal is finished.
///
/// A value type; `Broker` holds the lock while it changes it.
struct TopicMetadata: Equatable {
    enum Phase: String, Equatable {
        case ready
        case creating
        case deleting
    }

    struct Entry: Equatable {
        var config: TopicConfig
        var phase: Phase = .ready
        /// With `creating`: the first partition being created; those before it must exist.
        var creatingFrom: Int32 = 0
        /// Names this incarnation of the topic: a topic deleted and created again gets a new one, so
        /// that whoever kept offsets of the old one (a source's positions) can tell.
        var id = Entry.newID()
        /// For the broker's internal topics: each partition's end offset when the broker last closed
        /// cleanly. A log never shrinks, so a smaller end later means records were lost.
        var ends: [Int64]?

        static func newID() -> String {
            let value = UInt64.random(in: 0...UInt64.max)
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    static let fileName = "__topics.json"

    var topics: [String: Entry] = [:]

    /// Whether the file existed when it was loaded.
    var existed = false

    static func path(_ directory: String) -> String {
        directory + "/" + fileName
    }

    /// Reads the file; an empty list when it does not exist. Throws `storage` for a file that is not one
    /// Sluice wrote, or whose checksum does not match.
    static func load(_ directory: String) throws -> TopicMetadata {
        let path = path(directory)
        guard FileSystem.exists(path) else { return TopicMetadata() }
        let json: JSONValue
        do {
            json = try JSONValue.parse(try FileSystem.readFile(path))
        } catch {
            throw BrokerError(.storage, "\(path) is damaged: it is not valid JSON (\(error)); \(restoreHint)")
        }
        guard case .object(let top) = json, case .object(let members)? = json["topics"] else {
            throw BrokerError(.storage, "\(path) is damaged: it has no \"topics\" object; \(restoreHint)")
        }
        for (key, _) in top where !["version", "topics", "checksum"].contains(key) {
            throw BrokerError(.storage, "\(path) is damaged: unexpected member \"\(key)\"; \(restoreHint)")
        }
        guard json["version"]?.integerValue == 1 else {
            throw BrokerError(
                .storage,
                "\(path) has version \(json["version"].map { $0.serialized() } ?? "none"), which this Sluice does not "
                    + "know (it writes version 1): it was written by another version, or damaged")
        }
        if let stored = json["checksum"] {
            let computed = checksum(of: .object(members))
            guard stored.integerValue == Int64(computed) else {
                throw BrokerError(
                    .storage,
                    "\(path) is damaged or was changed outside Sluice: its checksum does not match its contents; "
                        + "\(restoreHint) (if you edited it on purpose, delete its \"checksum\" line)")
            }
        }
        var metadata = TopicMetadata(existed: true)
        for (name, value) in members {
            // The name becomes a folder name: one edited by hand must not lead outside the data directory.
            if let problem = TopicName.problem(name) { throw BrokerError(.storage, "\(path): \(problem)") }
            guard case .object(var fields) = value else {
                throw BrokerError(.storage, "\(path): topic \(name) is not an object")
            }
            func take(_ key: String) -> JSONValue? {
                guard let index = fields.firstIndex(where: { $0.0 == key }) else { return nil }
                return fields.remove(at: index).1
            }
            var entry = Entry(config: TopicConfig())
            if let state = take("state") {
                guard let text = state.stringValue, let parsed = Phase(rawValue: text) else {
                    throw BrokerError(.storage, "\(path): topic \(name) has an unknown state \(state)")
                }
                entry.phase = parsed
            }
            if let from = take("creating_from") {
                guard let value = from.integerValue, value >= 0, value <= Int64(TopicConfig.maxPartitions) else {
                    throw BrokerError(.storage, "\(path): topic \(name) has a bad creating_from \(from)")
                }
                entry.creatingFrom = Int32(value)
            }
            if let id = take("id") {
                guard let text = id.stringValue, !text.isEmpty else {
                    throw BrokerError(.storage, "\(path): topic \(name) has a bad id \(id)")
                }
                entry.id = text
            } else {
                metadata.assignedIDs = true
            }
            if let ends = take("ends") {
                guard case .array(let items) = ends, items.allSatisfy({ $0.integerValue != nil }) else {
                    throw BrokerError(.storage, "\(path): topic \(name) has bad ends \(ends)")
                }
                entry.ends = items.compactMap(\.integerValue)
            }
            entry.config = try TopicConfig(json: .object(fields), topic: name)
            metadata.topics[name] = entry
        }
        return metadata
    }

    /// Whether topics without an id (from before ids existed) were given one on load; the file should
    /// then be saved.
    var assignedIDs = false

    static let restoreHint =
        "restore it from a backup; Sluice will not guess which topics and partitions the folder holds"

    /// Writes the file atomically and durably.
    func save(_ directory: String) throws {
        let members = topics.keys.sorted().compactMap { name -> (String, JSONValue)? in
            guard let entry = topics[name], case .object(var fields) = entry.config.json else { return nil }
            fields.append(("id", .string(entry.id)))
            if entry.phase != .ready { fields.append(("state", .string(entry.phase.rawValue))) }
            if entry.phase == .creating { fields.append(("creating_from", .number(String(entry.creatingFrom)))) }
            if let ends = entry.ends { fields.append(("ends", .array(ends.map { .number(String($0)) }))) }
            return (name, .object(fields))
        }
        let json = JSONValue.object([
            ("version", .number("1")), ("topics", .object(members)),
            ("checksum", .number(String(Self.checksum(of: .object(members))))),
        ])
        do {
            try FileSystem.writeAtomically(Self.path(directory), Array((json.prettyPrinted() + "\n").utf8))
        } catch {
            throw BrokerError(.storage, "cannot save topic metadata", cause: error as? CoreError)
        }
    }

    /// CRC-32C of the compact form of the `topics` object.
    static func checksum(of topics: JSONValue) -> UInt32 {
        CRC32C.checksum(Array(topics.serialized().utf8))
    }

    /// The partition a folder name stands for (`orders-3` is partition 3 of `orders`), or nil for a
    /// name that is not one.
    static func partition(ofFolder name: String) -> TopicPartition? {
        guard !name.hasPrefix("."), !name.hasSuffix(".deleted"), let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let partition = Int32(digits)
        else { return nil }
        let topic = String(name[..<dash])
        guard TopicName.problem(topic) == nil else { return nil }
        return TopicPartition(topic, partition)
    }

    /// Checks that no folder in `directory` holds a partition the list does not describe: that would
    /// mean the list was lost or damaged, and going on would create those partitions anew, empty, and
    /// lose what consumers had committed. Throws `storage` naming the folders. (A listed partition
    /// whose folder is missing is found when its log is opened.)
    func checkFolders(_ directory: String) throws {
        let names = try FileSystem.contentsOfDirectory(directory)
        var unknown: [String] = []
        for name in names {
            guard let tp = Self.partition(ofFolder: name), FileSystem.isDirectory(directory + "/" + name) else {
                continue
            }
            if let entry = topics[tp.topic], tp.partition < entry.config.partitions || entry.phase != .ready {
                continue
            }
            unknown.append(name)
        }
        if !unknown.isEmpty {
            let listed = unknown.prefix(5).map { directory + "/" + $0 }.joined(separator: ", ")
            let more = unknown.count > 5 ? " and \(unknown.count - 5) more" : ""
            let why =
                existed
                ? "which \(Self.path(directory)) does not list"
                : "but \(Self.path(directory)), the list of topics, is missing"
            throw BrokerError(
                .storage,
                "the data directory holds partition folders \(listed)\(more), \(why). Nothing was changed. "
                    + "Restore \(Self.fileName) from a backup, or move those folders out of \(directory) "
                    + "if their records are not needed")
        }
    }

    /// The error for a listed partition whose folder, or whose every segment, is gone.
    static func missingPartition(_ tp: TopicPartition, _ problem: String) -> BrokerError {
        if TopicName.isInternal(tp.topic) {
            let holds =
                tp.topic == Broker.offsetsTopic
                ? "the groups' committed offsets (without them, sinks deliver everything again)"
                : "the sources' positions (without them, sources read their files again and skip the rows whose "
                    + "records are still stored)"
            return BrokerError(
                .storage,
                "the broker's internal partition \(tp), which holds \(holds), is listed in \(fileName) but "
                    + "\(problem). Nothing was changed. Restore the folder from a backup; or, to start it over "
                    + "empty, remove the \"\(tp.topic)\" entry and the \"checksum\" line from \(fileName)")
        }
        return BrokerError(
            .storage,
            "partition \(tp) is listed in \(fileName) but \(problem). Nothing was changed: recreating it empty "
                + "would lose records that groups have committed. Restore the folder from a backup, or delete "
                + "the topic (`sluice topics delete \(tp.topic)`) to start it over")
    }
}
