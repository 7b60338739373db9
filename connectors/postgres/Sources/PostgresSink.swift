import Logging
import SluiceCore
import SluiceKit

/// The PostgreSQL sink: loads each batch with `COPY … FROM STDIN` in one transaction, committed when
/// the runtime asks for durability; in upsert mode it copies into a staging table and merges with
/// `INSERT … ON CONFLICT (key columns) DO UPDATE`, keeping the record with the highest offset per key.
///
/// A row PostgreSQL refuses (a data exception or an integrity violation) is found in linear time, from
/// the COPY line the error names or by narrowing windows inside a savepoint, and returned as a record
/// failure while the rest of the batch loads (PostgresSink+Isolation.swift). Failures are sorted by SQLSTATE into transient, record and fatal
/// (`PostgresError.kind`). One instance per task; every call blocks and runs on the task's thread.
public final class PostgresSink: OffsetStoringSink {
    enum Mode: String {
        case insert
        case upsert
    }

    let connection: PostgresConnection
    let mode: Mode
    let tableOption: String?
    let keyOption: [String]?
    /// Record field → table column.
    let mapping: [String: String]
    let autoCreate: Bool
    let autoEvolve: Bool
    let ignoreUnknown: Bool
    /// Upsert with `delete_enabled`: a record with a null value deletes the row with its key.
    let deletesTombstones: Bool
    /// How a tombstone's key splits into the key columns when there are several (`key_separator`).
    let keySeparator: [UInt8]
    let schemas: [String: TopicSchema]
    let sinkName: String
    let group: String
    public let storesOffsets: Bool
    /// The table of the group's offsets (`offsets_table`), quoted, and as written in the config.
    let offsetsTable: String
    let offsetsTableName: String
    var offsetsTableReady = false
    /// Per partition this task claimed (exactly-once), the claim its positions are stored under.
    var claims: [TopicPartition: Int64] = [:]
    let logger: Logger
    var tables: [String: TableInfo] = [:]
    var stagingCreated: Set<String> = []
    /// Staging table name → the name of the table it stands for, for messages.
    var stagingNames: [String: String] = [:]
    /// Rows the upserts of the open transaction inserted and updated, and those of the last commit.
    var pendingCounts = SinkWriteCounts()
    public private(set) var flushedCounts: SinkWriteCounts?
    /// Each table's name as `schema.table`, once the sink has found it in the catalog.
    var displayNames: [String: String] = [:]

    /// What the sink knows of a table.
    struct TableInfo {
        var name: String
        var qualified: String
        /// Column name → its type as PostgreSQL writes it.
        var columns: [String: String]
        var keyColumns: [String]
        /// The columns of the index that insert mode loads rows in the order of (PostgresSink+Order.swift);
        /// nil until looked up.
        var indexColumns: [String]? = nil
    }

    public init(context: SinkContext) throws {
        let options = context.options
        connection = PostgresConnection(connectionString: options.string("connection") ?? "")
        mode = Mode(rawValue: options.string("mode") ?? "insert") ?? .insert
        tableOption = options.string("table")
        keyOption = options.stringList("key_columns")
        var mapping: [String: String] = [:]
        for (field, column) in options.stringMap("columns") ?? [] { mapping[field] = column }
        self.mapping = mapping
        autoCreate = options.bool("auto_create") ?? true
        autoEvolve = options.bool("auto_evolve") ?? false
        ignoreUnknown = options.bool("ignore_unknown_fields") ?? false
        deletesTombstones = mode == .upsert && (options.bool("delete_enabled") ?? true)
        keySeparator = Array((options.string("key_separator") ?? "|").utf8)
        schemas = context.schemas
        sinkName = context.name
        group = context.group
        storesOffsets = options.string("delivery") == "exactly_once"
        offsetsTableName = options.string("offsets_table") ?? "sluice_offsets"
        let (schema, table) = SQL.tableParts(offsetsTableName)
        offsetsTable = SQL.qualified(schema: schema, table: table)
        logger = context.logger
        if mode == .upsert {
            for topic in context.topics where keyColumns(for: topic).isEmpty {
                throw ConnectorError.fatal(
                    "postgres.config",
                    "\(options.path(of: "key_columns")): upsert needs key columns, and topic \"\(topic)\" carries none; "
                        + "set key_columns")
            }
        }
    }

    func keyColumns(for topic: String) -> [String] {
        (keyOption ?? schemas[topic]?.key ?? []).map { mapping[$0] ?? $0 }
    }

    func tableName(for topic: String) -> String { tableOption ?? topic }

    public var destination: String? {
        let names =
            tableOption.map { [displayNames[$0] ?? $0] } ?? displayNames.keys.sorted().compactMap { displayNames[$0] }
        guard !names.isEmpty else { return tableOption.map { "table \($0)" } }
        return (names.count == 1 ? "table " : "tables ") + names.joined(separator: ", ")
    }

    public func open(partitions: [TopicPartition: Int64]) throws {}

    public func close(partitions: Set<TopicPartition>) throws {}

    public func write(_ batch: SinkBatch) throws -> [RecordFailure] {
        do {
            if connection.interruption.isRaised { throw connection.abandon() }
            var failures: [RecordFailure] = []
            var byTopic: [String: [PartitionRecords]] = [:]
            var order: [String] = []
            for chunk in batch.partitions {
                if byTopic[chunk.topicPartition.topic] == nil { order.append(chunk.topicPartition.topic) }
                byTopic[chunk.topicPartition.topic, default: []].append(chunk)
            }
            // A savepoint, so that a table dropped while the sink runs (42P01) can be created again and the
            // batch loaded once more without losing what an earlier, unflushed write did.
            try connection.ensureTransaction()
            try connection.execute("SAVEPOINT sluice_write")
            let countsBefore = pendingCounts
            do {
                for topic in order { failures += try load(byTopic[topic] ?? [], topic: topic) }
            } catch let error as PostgresError where error.sqlState == "42P01" && autoCreate {
                try connection.rollbackToSavepoint("sluice_write")
                logger.info(
                    "a table was dropped while the sink ran; creating it again",
                    metadata: ["sink": "\(sinkName)", "error": "\(userFacing(error))"])
                tables.removeAll()
                stagingCreated.removeAll()
                failures = []
                pendingCounts = countsBefore
                for topic in order { failures += try load(byTopic[topic] ?? [], topic: topic) }
            }
            try connection.execute("RELEASE SAVEPOINT sluice_write")
            return failures
        } catch let error as PostgresError {
            throw classify(error)
        }
    }

    public func flush() throws {
        do {
            if connection.interruption.isRaised { throw connection.abandon() }
            try connection.commit()
            flushedCounts = mode == .upsert ? pendingCounts : nil
            pendingCounts = SinkWriteCounts()
        } catch let error as PostgresError {
            throw classify(error)
        }
    }

    public func abort() {
        connection.reset()
        pendingCounts = SinkWriteCounts()
        // Tables and columns made in the transaction went with it.
        stagingCreated.removeAll()
        tables.removeAll()
    }

    public func stop() {
        connection.reset()
        connection.close()
    }

    /// Ends a blocked `write` or `flush` at once; called from another thread when the run stops (see
    /// `Sink.interrupt()`). A wait for the server (a statement, a COPY, a connection attempt) ends, a
    /// running statement is cancelled with `PQcancel` and the connection is dropped, so nothing written
    /// since the last flush is ever committed; the call throws a transient `postgres.interrupted`
    /// error. Every later `write` and `flush` throws the same at once; `abort` and `stop` let go.
    public func interrupt() {
        connection.interruption.raise()
    }

    /// A PostgreSQL failure as a connector error, with what to do about the fatal ones.
    func classify(_ error: PostgresError) -> ConnectorError {
        if error.interrupted {
            stagingCreated.removeAll()
            return .transient("postgres.interrupted", "\(connection.target): \(error.message)")
        }
        if let failure = error.connectFailure {
            stagingCreated.removeAll()
            let text = "\(connection.target): \(error.message)"
            return failure.isFatal
                ? .fatal("postgres.\(failure.rawValue)", "\(text); \(failure.hint)")
                : .transient("postgres.\(failure.rawValue)", text)
        }
        switch error.kind {
        case .transient:
            if error.connectionLost { stagingCreated.removeAll() }
            return .transient(
                "postgres.\(error.sqlState.isEmpty ? "connection" : error.sqlState)", "\(connection.target): \(error)")
        case .record:
            return .record("postgres.\(error.sqlState)", userFacing(error))
        case .fatal:
            var hint = ""
            switch error.sqlState {
            case "42501": hint = "; grant the sink's user the rights it needs on the table"
            case "42P01":
                hint =
                    autoCreate
                    ? "; the table was dropped while the sink ran, and again after it was created anew"
                    : "; create the table or set auto_create"
            case "42703":
                hint = "; add the column, map the field with columns, or set auto_evolve or ignore_unknown_fields"
            case "42P10": hint = "; give the table a primary key or unique index on the key columns, or use mode insert"
            default: break
            }
            return .fatal("postgres.\(error.sqlState)", "\(connection.target): \(error)\(hint)")
        }
    }
}
