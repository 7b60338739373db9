import SluiceCore

/// Makes a source from its context.
public typealias SourceFactory = @Sendable (SourceContext) throws -> any Source

/// The connectors a runtime knows, by type: built-in ones and any a program registers.
public struct ConnectorRegistry: Sendable {
    public struct SourceEntry: Sendable {
        public let spec: ConnectorSpec
        public let make: SourceFactory
    }

    public private(set) var sources: [String: SourceEntry] = [:]

    public init() {}

    public mutating func register(source spec: ConnectorSpec, make: @escaping SourceFactory) {
        sources[spec.type] = SourceEntry(spec: spec, make: make)
    }

    /// Every spec, sources then sinks, by type.
    public var specs: [ConnectorSpec] {
        sources.values.map(\.spec).sorted { $0.type < $1.type }
    }

    public func spec(type: String) -> ConnectorSpec? {
        sources[type]?.spec
    }
}
