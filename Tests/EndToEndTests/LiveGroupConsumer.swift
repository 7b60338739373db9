import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// A `sluice consume --group GROUP --follow` running in the background: a group with a live member and
/// no commit yet, in a process that holds the data directory, as a run's sink group is while it works.
final class LiveGroupConsumer {
    let process: Process
    private let collector: OutputCollector

    /// Starts the consumer in `directory` and waits until `groups describe` shows its member.
    init(topic: String, group: String, in directory: String, extra: [String] = []) throws {
        let (process, out, err) = try SluiceBinary.start(
            ["consume", "--topic", topic, "--group", group, "--follow"] + extra, in: directory)
        self.process = process
        collector = OutputCollector(out: out, err: err)
        let deadline = Time.monotonicNanos() + 15_000_000_000
        while Time.monotonicNanos() < deadline {
            let described = try SluiceBinary.run(["groups", "describe", group] + extra, in: directory)
            if described.stdout.contains("Stable") { return }
            Time.sleep(millis: 50)
        }
        Issue.record("the consumer of group \(group) did not show as a member within 15 s")
    }

    var pid: Int32 { process.processIdentifier }

    /// Stops the consumer as Ctrl-C would and waits for it to end.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        process.waitUntilExit()
        _ = collector.finish()
    }

    deinit { stop() }
}
