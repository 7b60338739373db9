import ArgumentParser

/// The root command.
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Move CSV data into the places people use it, through a durable embedded broker.",
        discussion: """
            Sluice reads CSV files into keyed events, keeps them in a Kafka-compatible log on disk, \
            and delivers them to sinks in consumer groups, committing offsets only after a durable write.

            The commands on topics, groups and sources find the data directory that `sluice run` \
            uses through --config FILE (its data_dir), or --data-dir DIR, or the environment \
            variable SLUICE_DATA_DIR; without any of them it is ./data.

            Exit codes:
              0      success
              1      runtime failure
              2      usage or configuration error
              3      records were dead-lettered (run --fail-on-dead-letters)
              4      the daemon stopped at once, before its drain ended
              128+N  stopped by signal N: 130 for Ctrl-C (SIGINT), 143 for SIGTERM

            Examples:
              sluice run pipeline.json
              sluice daemon pipeline.json
              sluice groups describe orders-files --config pipeline.json
              sluice topics create orders --partitions 4
              printf 'k1|hi\\nk2|yo\\n' | sluice produce --topic orders \\
                  --key-separator '|'
              sluice consume --topic orders --from-beginning
            """,
        version: Version.text,
        subcommands: [
            Run.self, Daemon.self, Status.self, Reload.self, Pause.self, Resume.self, DeadLetters.self, Validate.self,
            Topics.self,
            Produce.self, Consume.self,
            Groups.self,
            SourcesCommand.self,
            Connectors.self, Perf.self,
        ]
    )
}
