import SluiceCore
import SluiceKit

/// Exactly-once delivery: the group's offsets live in a table of the same database, written in the
/// transaction that loads the batch (`delivery: "exactly_once"`). One row per group, topic and
/// partition: the next offset to deliver, the reset marker it follows and the dead-letter topic's ends
/// (see `OffsetStoringSink`).
extension PostgresSink {
    public func storedPositions(_ partitions: Set<TopicPartition>, deadLetterEnds: [Int64]) throws
        -> ClaimedPositions
    {
        // One statement, so one transaction of its own: it waits for a commit of another task that holds
        // a row, and its claims count from when it commits. A new row keeps the dead-letter ends of now.
        let (positions, unstored) = try positions(
            partitions,
            "INSERT INTO \(offsetsTable) AS stored (group_name, topic, partition, claim, dead_letter_ends) "
                + "SELECT $1, wanted.topic, wanted.partition, 1, $4::bigint[] FROM unnest($2::text[], $3::integer[]) "
                + "AS wanted (topic, partition) ON CONFLICT (group_name, topic, partition) DO UPDATE SET "
                + "claim = stored.claim + 1 RETURNING topic, partition, next_offset, reset_at, dead_letter_ends, topic_id, claim",
            extra: ["{" + deadLetterEnds.map { String($0) }.joined(separator: ",") + "}"], claiming: true)
        return ClaimedPositions(positions: positions, unstoredDeadLetterEnds: unstored)
    }

    public func currentPositions(_ partitions: Set<TopicPartition>) throws -> [TopicPartition: StoredPosition] {
        try positions(
            partitions,
            "SELECT stored.topic, stored.partition, stored.next_offset, stored.reset_at, stored.dead_letter_ends, "
                + "stored.topic_id "
                + "FROM \(offsetsTable) AS stored JOIN unnest($2::text[], $3::integer[]) AS wanted (topic, partition) "
                + "ON stored.topic = wanted.topic AND stored.partition = wanted.partition WHERE stored.group_name = $1",
            extra: [], claiming: false
        ).stored
    }

    /// Runs `statement` (parameters: the group, the topics, the partitions, then `extra`; rows: topic,
    /// partition, next offset, reset marker, dead-letter ends, topic id, and the claim when `claiming`)
    /// and reads its rows: the positions stored, and the dead-letter ends of rows without one.
    private func positions(
        _ partitions: Set<TopicPartition>, _ statement: String, extra: [String?], claiming: Bool
    ) throws -> (stored: [TopicPartition: StoredPosition], unstored: [TopicPartition: [Int64]]) {
        guard !partitions.isEmpty else { return ([:], [:]) }
        do {
            try connection.ensureIdle()
            try prepareOffsetsTable()
            let sorted = partitions.sorted()
            var unstored: [TopicPartition: [Int64]] = [:]
            let rows = try connection.execute(
                statement,
                [
                    group, SQL.textArray(sorted.map(\.topic)),
                    "{" + sorted.map { String($0.partition) }.joined(separator: ",") + "}",
                ] + extra)
            var result: [TopicPartition: StoredPosition] = [:]
            for row in rows where row.count == (claiming ? 7 : 6) {
                guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }) else {
                    throw ConnectorError.fatal(
                        "postgres.offsets", "\(offsetsTableName) holds a row for group \(group) that cannot be read")
                }
                let tp = TopicPartition(topic, partition)
                if claiming { claims[tp] = row[6].flatMap { Int64($0) } }
                guard let offset = row[2].flatMap({ Int64($0) }) else {
                    unstored[tp] = SQL.integers(inArray: row[4] ?? "")
                    continue
                }
                result[tp] = StoredPosition(
                    offset: offset, resetAt: row[3].flatMap { Int64($0) },
                    deadLetterEnds: SQL.integers(inArray: row[4] ?? ""), topicID: row[5])
            }
            return (result, unstored)
        } catch let error as PostgresError {
            throw classify(error)
        }
    }

    public func stage(_ positions: [TopicPartition: StoredPosition], replacing: [TopicPartition: HeldPosition]) throws {
        guard !positions.isEmpty else { return }
        do {
            try connection.ensureTransaction()
            var values: [String] = []
            var parameters: [String?] = [group]
            for (tp, position) in positions.sorted(by: { $0.key < $1.key }) {
                let n = parameters.count
                values.append(
                    "($\(n + 1)::text, $\(n + 2)::integer, $\(n + 3)::bigint, $\(n + 4)::bigint, $\(n + 5)::bigint, "
                        + "$\(n + 6)::bigint[], $\(n + 7)::text, $\(n + 8)::bigint, $\(n + 9)::bigint)")
                let held = replacing[tp] ?? HeldPosition(offset: nil, resetAt: nil)
                parameters += [
                    tp.topic, String(tp.partition), claims[tp].map { String($0) } ?? "0", String(position.offset),
                    position.resetAt.map { String($0) },
                    "{" + position.deadLetterEnds.map { String($0) }.joined(separator: ",") + "}", position.topicID,
                    held.offset.map { String($0) }, held.resetAt.map { String($0) },
                ]
            }
            // Only rows still under this task's claim, and still where the task left them, move; the
            // update holds them until the commit.
            let rows = try connection.execute(
                "WITH moved AS (UPDATE \(offsetsTable) AS stored SET next_offset = given.next_offset, "
                    + "reset_at = given.reset_at, dead_letter_ends = given.ends, topic_id = given.topic_id, "
                    + "updated_at = now() FROM (VALUES " + values.joined(separator: ", ")
                    + ") AS given (topic, partition, claim, next_offset, reset_at, ends, topic_id, held_offset, held_reset) "
                    + "WHERE stored.group_name = $1 AND stored.topic = given.topic AND stored.partition = given.partition "
                    + "AND stored.claim = given.claim AND stored.next_offset IS NOT DISTINCT FROM given.held_offset "
                    + "AND stored.reset_at IS NOT DISTINCT FROM given.held_reset RETURNING 1) SELECT count(*) FROM moved",
                parameters)
            guard rows.first?.first.flatMap({ $0.flatMap { Int($0) } }) == positions.count else {
                throw SinkFenced(
                    "another task claimed a partition of this batch (the task was evicted from its group while it "
                        + "worked), or the offsets stored for it moved; the batch is dropped, and its owner delivers it"
                )
            }
        } catch let error as PostgresError {
            throw classify(error)
        }
    }

    /// Creates the offsets table when it is missing (outside any batch's transaction, so that a batch
    /// rolled back does not take it along).
    private func prepareOffsetsTable() throws {
        guard !offsetsTableReady else { return }
        let (schema, _) = SQL.tableParts(offsetsTableName)
        do {
            if let schema { _ = try connection.execute("CREATE SCHEMA IF NOT EXISTS \(SQL.identifier(schema))") }
            _ = try connection.execute(
                "CREATE TABLE IF NOT EXISTS \(offsetsTable) (group_name text NOT NULL, topic text NOT NULL, "
                    + "partition integer NOT NULL, claim bigint NOT NULL, next_offset bigint, reset_at bigint, "
                    + "dead_letter_ends bigint[] NOT NULL DEFAULT '{}', topic_id text, "
                    + "updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (group_name, topic, partition))")
        } catch let error as PostgresError where ["23505", "42P07", "42710", "42P06"].contains(error.sqlState) {
            // Another task created it at the same moment.
        } catch let error as PostgresError where error.kind != .transient {
            throw ConnectorError.fatal(
                "postgres.offsets",
                "\(connection.target): cannot create the offsets table \(offsetsTableName) that exactly_once "
                    + "delivery needs (\(userFacing(error))); create it, grant the rights, or set offsets_table")
        }
        offsetsTableReady = true
    }
}
