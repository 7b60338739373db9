import CRdKafka
import SluiceBroker
import SluiceCore

/// A source's owner among the processes that run the same config on one cluster: the member of the
/// consumer group `sluice-source.NAME` to which the single partition of `_sluice_checkpoints` is
/// assigned. Kafka's group protocol gives it to one member at a time and, when that member stops
/// heartbeating, to another within the session timeout. The partition is paused once assigned: the
/// claim reads nothing. A thread polls the handle (rebalances are served inside polls).
final class KafkaSourceClaim: SourceClaim, @unchecked Sendable {
    private struct State {
        var owner = false
        var epoch = 0
    }
    private let state = Locked(State())
    private let handle: KafkaHandle
    private let stopped = Locked(false)
    private var thread: WorkerThread?

    init(cluster: KafkaCluster, source: String, sessionTimeoutMillis: Int) throws {
        let box = ClaimBox()
        handle = try KafkaHandle(
            .consumer, cluster.settings,
            extra: [
                ("group.id", "sluice-source.\(source)"), ("enable.auto.commit", "false"),
                ("enable.partition.eof", "false"), ("session.timeout.ms", String(sessionTimeoutMillis)),
                ("heartbeat.interval.ms", String(max(100, sessionTimeoutMillis / 5))),
            ],
            opaque: box
        ) { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
            rd_kafka_conf_set_rebalance_cb(conf, claimRebalance)
            rd_kafka_conf_set_log_cb(conf, { _, _, _, _ in })
        }
        box.claim = self
        rd_kafka_poll_set_consumer(handle.raw)
        let topics = PartitionList([:])
        rd_kafka_topic_partition_list_add(topics.raw, KafkaCluster.checkpointsTopic, RD_KAFKA_PARTITION_UA)
        let code = rd_kafka_subscribe(handle.raw, topics.raw)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaHandle.error(code, "source \"\(source)\" cannot join its owners' group")
        }
        let (handle, stopped) = (handle, stopped)
        thread = WorkerThread(name: "claim-\(source)") {
            while !stopped.withLock({ $0 }) {
                if let message = rd_kafka_consumer_poll(handle.raw, 100) { rd_kafka_message_destroy(message) }
            }
            handle.closeConsumer(deadlineMillis: cluster.requestTimeoutMillis)
            _ = box
        }
    }

    var isOwner: Bool { state.withLock { $0.owner } }
    var epoch: Int { state.withLock { $0.epoch } }

    func assigned(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        rd_kafka_assign(handle.raw, list)
        guard let list, list.pointee.cnt > 0 else {
            state.withLock { $0.owner = false }
            return
        }
        rd_kafka_pause_partitions(handle.raw, list)
        state.withLock {
            $0.owner = true
            $0.epoch += 1
        }
    }

    func release() {
        stopped.withLock { $0 = true }
        thread?.join()
        thread = nil
        state.withLock { $0.owner = false }
    }

    deinit {
        release()
    }
}

/// What the claim's rebalance callback reaches through the handle's opaque.
final class ClaimBox: @unchecked Sendable {
    nonisolated(unsafe) weak var claim: KafkaSourceClaim?
}

let claimRebalance:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { handle, code, partitions, opaque in
        guard let opaque else { return }
        let claim = Unmanaged<ClaimBox>.fromOpaque(opaque).takeUnretainedValue().claim
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            claim?.assigned(partitions)
        } else {
            claim?.assigned(nil)
            if claim == nil, let handle { rd_kafka_assign(handle, nil) }
        }
    }
