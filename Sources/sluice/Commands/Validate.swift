import ArgumentParser
import Logging
import SluiceCore
import SluiceRuntime

/// `sluice validate`
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a config file without running it.",
        discussion: """
            Checks what `sluice run` would stop on, and prints every problem on a line of its own with \
            its path in the file (sources.orders.key), or what the config would run. Besides the file \
            itself: that each source's path matches files and that their header rows name the key and \
            typed columns (only the header rows are read, gzip files too); that each topic a sink reads \
            exists in the data directory or is written by the config; that upsert has key columns; that \
            no file sink writes inside the data directory. With --connect, also that each PostgreSQL \
            sink's server answers and that its tables exist with the rights the sink needs, or can be \
            created. Nothing is written: the data directory is only read, and not created.

            Exit code 0 when valid, 2 otherwise.

            Examples:
              sluice validate
              sluice validate pipelines/orders.json --connect
            """
    )

    @Argument(help: "The config file.")
    var config = "config.json"

    @Flag(help: "Also connect to each PostgreSQL sink's server and check its tables and the rights to write them.")
    var connect = false

    func run() throws {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        let plan = try Preflight(loader: loader, connect: connect, logger: Logger(label: "sluice")).check(path: config)
        print("\(config) is valid.")
        print(plan.render())
    }
}
