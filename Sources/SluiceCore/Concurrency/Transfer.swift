/// Hands a value that is not `Sendable` to exactly one other thread, which then owns it. The sender
/// promises not to touch the value afterwards (or only through parts documented as thread-safe).
public struct Transfer<Value>: @unchecked Sendable {
    public let value: Value

    public init(_ value: Value) {
        self.value = value
    }
}
