import SluiceCSV
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
        return registry
    }
}
