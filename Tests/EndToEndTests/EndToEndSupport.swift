import Foundation
import Glibc
import Logging
import SluiceBroker
import SluiceCore
import SluiceLog
import SluiceTestSupport
import Testing

/// Helpers for tests that run the `sluice` binary on real files.
enum EndToEnd {
    /// The repository's root, from this file's place in it.
    static var repositoryRoot: String {
        var path = #filePath
        for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }
        return path
    }

    static var corpus: String { repositoryRoot + "/connectors/csv/Tests/Corpus" }

    /// Writes `json` to `name` in `directory`.
    static func write(_ json: String, to name: String, in directory: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: directory + "/" + name))
    }

    /// Every record of `topic` in the data directory, read without taking its lock.
    static func records(_ topic: String, dataDirectory: String) throws -> [(partition: Int32, record: Record)] {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let broker = try Broker(dataDirectory: dataDirectory, readOnly: true, logger: logger)
        var result: [(Int32, Record)] = []
        for partition in 0..<(try broker.partitionCount(topic)) {
            let tp = TopicPartition(topic, partition)
            var (offset, end) = try broker.offsets(tp)
            while offset < end {
                let bytes = try broker.read(tp, from: offset, maxBytes: 8 << 20)
                let block = try RecordBatchDecoder.decode(bytes, from: offset)
                guard let last = block.entries.last else { break }
                for index in 0..<block.count { result.append((partition, block.record(index))) }
                offset = last.offset + 1
                end = try broker.offsets(tp).end
            }
        }
        return result
    }

    /// Starts `sluice` with `arguments` again and again, killing it with SIGKILL after a random moment
    /// (`minMillis` plus up to `spreadMillis`), until it was killed `times` times or finished on its own.
    /// Returns how many times it was killed.
    static func killRepeatedly(
        _ arguments: [String],
        in directory: String,
        times: Int,
        seed: UInt64,
        minMillis: Int,
        spreadMillis: Int
    ) throws -> Int {
        var random = SplitMix64(seed: seed)
        var kills = 0
        while kills < times {
            let (process, out, err) = try SluiceBinary.start(arguments, in: directory)
            let collector = OutputCollector(out: out, err: err)
            Time.sleep(millis: minMillis + Int(random.next() % UInt64(spreadMillis)))
            let running = process.isRunning
            if running {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
            _ = collector.finish()
            if !running { break }
        }
        return kills
    }

    /// Runs `sluice` and expects `status`; returns the result.
    @discardableResult
    static func sluice(
        _ arguments: [String],
        in directory: String,
        expect status: Int32 = 0,
        stdin: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> SluiceBinary.Result {
        let result = try SluiceBinary.run(arguments, in: directory, stdin: stdin.map { Data($0.utf8) })
        #expect(
            result.status == status,
            "sluice \(arguments.joined(separator: " ")) exited \(result.status)\nstdout: \(result.stdout)\nstderr: \(result.stderr)",
            sourceLocation: sourceLocation
        )
        return result
    }
}

extension Record {
    func headerText(_ name: String) -> String? {
        header(name).map { String(decoding: $0, as: UTF8.self) }
    }
}
