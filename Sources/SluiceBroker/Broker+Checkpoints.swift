extension Broker {
    /// The checkpoint a source stored last, or nil before its first.
    public func sourceCheckpoint(_ source: String) -> [UInt8]? {
        checkpointStore.get(Array(source.utf8))
    }

    /// Stores a source's checkpoint durably.
    public func storeSourceCheckpoint(_ source: String, _ checkpoint: [UInt8]) throws {
        try checkpointStore.put([(key: Array(source.utf8), value: checkpoint)])
    }

    /// Forgets a source's checkpoint, so that its next run reads everything again.
    public func deleteSourceCheckpoint(_ source: String) throws {
        try checkpointStore.put([(key: Array(source.utf8), value: nil)])
    }

    /// The sources with a stored checkpoint.
    public func sourceNames() -> [String] {
        checkpointStore.all().map { String(decoding: $0.key, as: UTF8.self) }.sorted()
    }
}
