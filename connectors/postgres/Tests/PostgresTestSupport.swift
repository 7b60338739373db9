import Logging
import SluiceCore
import SluiceKit
import SluiceTestSupport

@testable import SluicePostgres

/// A sink on a fresh database of the shared test server, and helpers to feed it records.
struct PostgresFixture {
    let server: PostgresServer
    let database: String

    init() throws {
        server = try PostgresServer.shared()
        database = try server.createDatabase()
    }

    var connection: String { server.connectionString(database: database) }

    func sink(
        _ options: [(key: String, value: JSONValue)],
        topics: [String] = ["orders"],
        schemas: [String: TopicSchema] = [:]
    ) throws -> PostgresSink {
        let members = [(key: "connection", value: JSONValue.string(connection))] + options
        let (validated, problems) = PostgresSink.spec.validate(members, path: "sinks.pg")
        guard problems.isEmpty else { throw ConfigError(problems) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try PostgresSink(
            context: SinkContext(
                name: "pg", task: 0, options: validated, topics: topics, schemas: schemas, logger: logger))
    }

    /// A batch of JSON values for one partition, with offsets from `first`.
    static func batch(_ values: [String], topic: String = "orders", partition: Int32 = 0, first: Int64 = 0) -> SinkBatch
    {
        var block = RecordBlock()
        for (i, value) in values.enumerated() {
            block.append(Record(key: nil, value: Array(value.utf8), timestamp: 0, offset: first + Int64(i)))
        }
        return SinkBatch(partitions: [
            PartitionRecords(topicPartition: TopicPartition(topic, partition), records: block)
        ])
    }

    @discardableResult
    func query(_ sql: String) throws -> String {
        try server.psql(sql, database: database)
    }
}
