import Metrics
import SluiceKit

/// The counters and timers a source task updates, once per stored batch, through swift-metrics: with
/// no metrics backend bootstrapped (`sluice run`) they cost next to nothing; the daemon bootstraps
/// Prometheus. Names follow Prometheus's conventions: `sluice_` prefix, base units, `_total` on
/// counters, and only the connector's name as a label.
struct SourceMetrics {
    let rows: Counter
    let bytes: Counter
    let deadLetters: Counter
    let appended: Counter

    init(source: String, topic: String) {
        rows = Counter(label: "sluice_source_rows_read_total", dimensions: [("source", source)])
        bytes = Counter(label: "sluice_source_bytes_read_total", dimensions: [("source", source)])
        deadLetters = Counter(label: "sluice_source_dead_letters_total", dimensions: [("source", source)])
        appended = Counter(label: "sluice_topic_appended_records_total", dimensions: [("topic", topic)])
    }
}

/// What a sink task counts, once per committed batch.
struct SinkMetrics {
    let sink: String
    let written: Counter
    let retries: Counter
    let commits: Counter
    let writeDuration: Timer
    let commitDuration: Timer

    init(sink: String) {
        self.sink = sink
        let labels = [("sink", sink)]
        written = Counter(label: "sluice_sink_records_written_total", dimensions: labels)
        retries = Counter(label: "sluice_sink_retries_total", dimensions: labels)
        commits = Counter(label: "sluice_sink_commits_total", dimensions: labels)
        // Counted where a sink restarts (PipelineTasks); made here so the series is there at zero.
        _ = Counter(label: "sluice_sink_restarts_total", dimensions: labels)
        writeDuration = Timer(label: "sluice_sink_batch_write_duration_seconds", dimensions: labels)
        commitDuration = Timer(label: "sluice_sink_commit_duration_seconds", dimensions: labels)
    }

    /// Counts dead letters in `sluice_sink_dead_letters_total` by their reason: the error class, a short
    /// name from a set the connectors fix (`postgres.23505`, `postgres.not_an_object`), so the label's
    /// values stay bounded.
    func deadLettered(_ failures: [RecordFailure]) {
        var byReason: [String: Int64] = [:]
        for failure in failures { byReason[failure.error.errorClass, default: 0] += 1 }
        for (reason, count) in byReason {
            Counter(label: "sluice_sink_dead_letters_total", dimensions: [("sink", sink), ("reason", reason)])
                .increment(by: count)
        }
    }
}
