import SluiceCSV
import SluiceExec
import SluiceFile
import SluiceKit
import SluicePostgres

/// The connectors that ship with Sluice.
public enum BuiltInConnectors {
    public static var registry: ConnectorRegistry {
        var registry = ConnectorRegistry()
        registry.register(source: CSVSource.spec) { context in try CSVSource(context: context) }
        registry.register(sink: FileSink.spec) { context in try FileSink(context: context) }
        registry.register(sink: PostgresSink.spec) { context in try PostgresSink(context: context) }
        registry.register(source: ExecConnector.sourceSpec) { context in try ExecSource(context: context) }
        registry.register(sink: ExecConnector.sinkSpec) { context in try ExecSink(context: context) }
        return registry
    }
}
