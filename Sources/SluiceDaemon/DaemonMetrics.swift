import Metrics
import Prometheus
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
    }

    /// The Prometheus text exposition, with the gauges set from `status`.
    func render(
        status: PipelineStatus?, phase: PipelineObserver.Phase, generation: Int, version: String
    ) -> String {
        gauge("build", "info", "The running build; always 1", [("version", version)]).set(to: 1)
        gauge("config", "generation", "Raised by every applied reload").set(to: Double(generation))
        gauge("ready", "", "1 while the pipeline runs, 0 while it starts or drains").set(to: phase == .running ? 1 : 0)
        for sink in status?.sinks ?? [] {
            gauge(
                "sink_lag", "records", "Records of the sink's topics its group has not committed", [("sink", sink.name)]
            )
            .set(to: Double(sink.lagRecords))
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
