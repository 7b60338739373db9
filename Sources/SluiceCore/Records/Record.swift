/// One record as separate values, for tests and cold paths; the hot path uses `RecordBlock`.
public struct Record: Sendable, Equatable {
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [Header]
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    /// The offset once stored, -1 before.
    public var offset: Int64

    public init(key: [UInt8]? = nil, value: [UInt8]?, headers: [Header] = [], timestamp: Int64 = 0, offset: Int64 = -1)
    {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.offset = offset
    }

    /// A record whose key and value are the UTF-8 bytes of strings.
    public init(key: String?, value: String?, headers: [Header] = [], timestamp: Int64 = 0) {
        self.init(
            key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers, timestamp: timestamp
        )
    }

    /// The value of the last header named `name`.
    public func header(_ name: String) -> [UInt8]? {
        headers.last(where: { $0.name == name })?.value
    }
}

/// A record header: a name and optional bytes.
public struct Header: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]?

    public init(_ name: String, _ value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name, Array(value.utf8))
    }
}
