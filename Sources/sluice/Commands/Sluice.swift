import ArgumentParser

/// The root command.
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Move CSV data into the places people use it, through a durable embedded broker.",
        discussion: """
            Sluice reads CSV files into keyed events, keeps them in a Kafka-compatible log on disk, \
            and delivers them to sinks in consumer groups, committing offsets only after a durable write.

            Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

            Examples:
              sluice topics create orders --partitions 4
              printf 'k1|hi\\nk2|yo\\n' | sluice produce --topic orders --key-separator '|'
              sluice consume --topic orders --from-beginning
              sluice groups describe orders-sink
            """,
        version: Version.text,
        subcommands: [
            Run.self, Validate.self, Topics.self, Produce.self, Consume.self, Groups.self, SourcesCommand.self,
            Connectors.self, Perf.self,
        ]
    )
}
