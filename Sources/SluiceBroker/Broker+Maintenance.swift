import SluiceCore
import SluiceLog

extension Broker {
    /// Applies retention to every partition of every topic. A partition keeps what the groups with
    /// commits on it have not consumed, unless its topic sets `retention_respects_groups` to false;
    /// then the skipped records are logged. Returns what each partition deleted, when it did.
    @discardableResult
    public func applyRetention(now: Int64 = Time.nowMillis()) throws -> [TopicPartition: PartitionLog.RetentionResult] {
        guard !isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        var results: [TopicPartition: PartitionLog.RetentionResult] = [:]
        for topic in topicNames(includeInternal: false) {
            guard let config = topicConfig(topic) else { continue }
            let lowest = offsetStore.lowestCommitted(topic: topic)
            for partition in 0..<config.partitions {
                let tp = TopicPartition(topic, partition)
                let result = try log(tp).applyRetention(
                    now: now,
                    keepFrom: lowest[partition],
                    respectGroups: config.retentionRespectsGroups
                )
                if result.deletedSegments > 0 || result.heldBackByGroups > 0 { results[tp] = result }
            }
        }
        return results
    }

    /// Flushes the logs whose topic flushes on an interval and whose oldest unflushed append is due.
    public func flushDueLogs(now: Int64 = Time.nowMillis()) throws {
        let logs = topics.withLock { topics in topics.values.flatMap { $0.logs.compactMap { $0 } } }
        for log in logs { try log.flushIfDue(now: now) }
    }
}
