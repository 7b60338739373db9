import Foundation
import Logging
import SluiceCore
import SluiceKit

@testable import SluiceCSV

/// Runs a CSV source over files and collects what it produced.
struct SourceRun {
    var records: [Record] = []
    var deadLetters: [Record] = []
    var checkpoint: [UInt8] = []
    var batches = 0
    var progress = SourceProgress()
}

enum CSVTestSupport {
    /// Validated options from JSON members, with `path` set.
    static func options(path: String, _ extra: [(key: String, value: JSONValue)] = []) throws -> ConnectorOptions {
        let members = [(key: "path", value: JSONValue.string(path))] + extra
        let (options, problems) = CSVSource.spec.validate(members, path: "sources.test")
        guard problems.isEmpty else { throw ConfigError(problems) }
        return options
    }

    static func context(
        _ options: ConnectorOptions,
        checkpoint: [UInt8]? = nil,
        stored: [[Header]] = []
    ) -> SourceContext {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return SourceContext(
            name: "test", options: options, logger: logger, checkpoint: checkpoint, storedAfterCheckpoint: stored)
    }

    /// Runs a source to the end (or for `maxBatches`).
    static func run(
        _ options: ConnectorOptions, checkpoint: [UInt8]? = nil, stored: [[Header]] = [], maxBatches: Int = .max
    )
        throws -> SourceRun
    {
        let source = try CSVSource(context: context(options, checkpoint: checkpoint, stored: stored))
        defer { source.close() }
        var run = SourceRun()
        var more = true
        while more && run.batches < maxBatches {
            var batch = SourceBatch()
            more = try source.nextBatch(&batch)
            run.records += batch.records.records
            run.deadLetters += batch.deadLetters.records
            run.batches += 1
        }
        run.checkpoint = source.checkpoint()
        run.progress = source.progress
        return run
    }

    static var corpusDirectory: String {
        guard let url = Bundle.module.url(forResource: "Corpus", withExtension: nil) else { return "Corpus" }
        return url.path
    }
}

extension Record {
    func headerText(_ name: String) -> String? {
        header(name).map { String(decoding: $0, as: UTF8.self) }
    }
}
