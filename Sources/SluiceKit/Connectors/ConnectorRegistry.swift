import SluiceCore

/// Makes a source from its context.
public typealias SourceFactory = @Sendable (SourceContext) throws -> any Source

/// The connectors a runtime knows, by type: built-in ones and any a program registers.
public struct ConnectorRegistry: Sendable {
    public struct SourceEntry: Sendable {
        public let spec: ConnectorSpec
        public let make: SourceFactory
    }

    public struct SinkEntry: Sendable {
        public let spec: ConnectorSpec
        public let make: SinkFactory
    }

    public private(set) var sources: [String: SourceEntry] = [:]
    public private(set) var sinks: [String: SinkEntry] = [:]

    public init() {}

    public mutating func register(source spec: ConnectorSpec, make: @escaping SourceFactory) {
        sources[spec.type] = SourceEntry(spec: spec, make: make)
    }

    public mutating func register(sink spec: ConnectorSpec, make: @escaping SinkFactory) {
        sinks[spec.type] = SinkEntry(spec: spec, make: make)
    }

    /// Every spec, sources then sinks, each by type.
    public var specs: [ConnectorSpec] {
        sources.values.map(\.spec).sorted { $0.type < $1.type } + sinks.values.map(\.spec).sorted { $0.type < $1.type }
    }

    /// The spec of a type; a source's when a source and a sink share the type.
    public func spec(type: String) -> ConnectorSpec? {
        sources[type]?.spec ?? sinks[type]?.spec
    }
}
