import Metrics

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
    let written: Counter
    let deadLetters: Counter
    let retries: Counter
    let commits: Counter
    let writeDuration: Timer
    let commitDuration: Timer

    init(sink: String) {
        let labels = [("sink", sink)]
        written = Counter(label: "sluice_sink_records_written_total", dimensions: labels)
        deadLetters = Counter(label: "sluice_sink_dead_letters_total", dimensions: labels)
        retries = Counter(label: "sluice_sink_retries_total", dimensions: labels)
        commits = Counter(label: "sluice_sink_commits_total", dimensions: labels)
        writeDuration = Timer(label: "sluice_sink_batch_write_duration_seconds", dimensions: labels)
        commitDuration = Timer(label: "sluice_sink_commit_duration_seconds", dimensions: labels)
    }
}
