import Metrics
import Prometheus
import SluiceLog
import SluiceRuntime

/// The daemon's metrics: the runtime counts per batch through swift-metrics, into this Prometheus
/// registry; the gauges that describe a moment (lag, generation, phase) are set when `/metrics` is
/// read, from the pipeline's status. One per process: swift-metrics can be bootstrapped once.
final class DaemonMetrics: Sendable {
    static let shared = DaemonMetrics()

    let registry = PrometheusCollectorRegistry()

    private init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            .seconds(10), .seconds(30),
        ]
        MetricsSystem.bootstrap(factory)
        // Counters that may stay at zero exist from the start: a rate() or an alert on them needs a series.
        _ = Counter(label: "sluice_pipeline_restarts_total")
        for result in ["applied", "refused", "unchanged"] {
            _ = Counter(label: "sluice_config_reloads_total", dimensions: [("result", result)])
        }
        let fsync = Metrics.Timer(label: "sluice_log_fsync_duration_seconds")
        SyncTiming.listen { fsync.recordNanoseconds(Int64($0)) }
    }

    /// The Prometheus text exposition, with the gauges set from `status`.
    func render(
        status: PipelineStatus?, files: [String: [SourceFile]], phase: PipelineObserver.Phase, generation: Int,
        version: String
    ) -> String {
        gauge("build", "info", "The running build; always 1", [("version", version)]).set(to: 1)
        gauge("config", "generation", "Raised by every applied reload").set(to: Double(generation))
        gauge("ready", "", "1 while the pipeline runs, 0 while it starts or drains").set(to: phase == .running ? 1 : 0)
        for sink in status?.sinks ?? [] {
            gauge(
                "sink_lag", "records", "Records of the sink's topics its group has not committed", [("sink", sink.name)]
            )
            .set(to: Double(sink.lagRecords))
            gauge(
                "sink_lag", "seconds", "How long ago the oldest record the sink's group has not committed was appended",
                [("sink", sink.name)]
            )
            .set(to: sink.lagSeconds)
        }
        for (source, ledger) in files.sorted(by: { $0.key < $1.key }) {
            for state in SourceFile.State.allCases {
                gauge(
                    "source_files", "",
                    "Files of the source's ledger, by state (new, reading, waiting, done, gone, replaced)",
                    [("source", source), ("state", state.rawValue)]
                )
                .set(to: Double(ledger.filter { $0.state == state }.count))
            }
            gauge("source_unread", "bytes", "Bytes of the source's files not read yet", [("source", source)])
                .set(to: Double(ledger.reduce(Int64(0)) { $0 + ($1.unreadBytes ?? 0) }))
        }
        return registry.emitToString()
    }

    private func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = [])
        -> Prometheus.Gauge
    {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "sluice", metricName: name, unitName: unit, helpText: help),
            labels: labels)
    }
}
