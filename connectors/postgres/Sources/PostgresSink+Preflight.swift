import SluiceCore
import SluiceKit

extension PostgresSink {
    /// The PostgreSQL sink's checks before a run (see `ConnectorSpec.preflight`): upsert has key columns
    /// for every topic; and, when asked to connect, the server answers and each table is there with the
    /// rights the sink needs, or can be created (`PostgresPreflight`). Runs no DDL and writes nothing.
    static func preflight(_ context: PreflightContext) -> PreflightResult {
        var result = PreflightResult()
        let options = context.options
        if options.string("mode") == "upsert" && options.stringList("key_columns") == nil {
            for topic in context.topics where (context.schemas[topic]?.key ?? []).isEmpty {
                result.problem(
                    options.path(of: "key_columns"),
                    "mode upsert needs key columns, and topic \"\(topic)\" carries none; set key_columns, or key "
                        + "on the source that writes the topic")
            }
        }
        guard context.connect else { return result }
        return result + PostgresPreflight(context).run()
    }
}
