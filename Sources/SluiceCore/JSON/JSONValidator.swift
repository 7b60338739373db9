/// Checks that bytes hold exactly one JSON value (RFC 8259), without building anything.
public enum JSONValidator {
    /// Whether `bytes` is one JSON value, with optional white space around it.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = Scanner(bytes: bytes)
        scanner.skipSpace()
        guard scanner.value(depth: 0) else { return false }
        scanner.skipSpace()
        return scanner.position == bytes.count
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard position + count <= bytes.count else { return false }
            for k in 0..<count where bytes[position + k] != text.utf8Start[k] { return false }
            position += count
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < 256, let byte = current else { return false }
            switch byte {
            case UInt8(ascii: "{"):
                position += 1
                skipSpace()
                if current == UInt8(ascii: "}") {
                    position += 1
                    return true
                }
                while true {
                    skipSpace()
                    guard current == UInt8(ascii: "\""), string() else { return false }
                    skipSpace()
                    guard current == UInt8(ascii: ":") else { return false }
                    position += 1
                    skipSpace()
                    guard value(depth: depth + 1) else { return false }
                    skipSpace()
                    if current == UInt8(ascii: ",") {
                        position += 1
                    } else if current == UInt8(ascii: "}") {
                        position += 1
                        return true
                    } else {
                        return false
                    }
                }
            case UInt8(ascii: "["):
                position += 1
                skipSpace()
                if current == UInt8(ascii: "]") {
                    position += 1
                    return true
                }
                while true {
                    skipSpace()
                    guard value(depth: depth + 1) else { return false }
                    skipSpace()
                    if current == UInt8(ascii: ",") {
                        position += 1
                    } else if current == UInt8(ascii: "]") {
                        position += 1
                        return true
                    } else {
                        return false
                    }
                }
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func digits() -> Int {
            let start = position
            while let byte = current, byte >= 0x30, byte <= 0x39 { position += 1 }
            return position - start
        }

        mutating func number() -> Bool {
            if current == UInt8(ascii: "-") { position += 1 }
            let start = position
            let count = digits()
            guard count > 0, count == 1 || bytes[start] != UInt8(ascii: "0") else { return false }
            if current == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { return false }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { return false }
            }
            return true
        }

        mutating func string() -> Bool {
            position += 1
            while let byte = current {
                position += 1
                switch byte {
                case UInt8(ascii: "\""): return true
                case UInt8(ascii: "\\"):
                    guard let escape = current else { return false }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let hex = current,
                                (hex >= 0x30 && hex <= 0x39) || (hex | 0x20 >= 0x61 && hex | 0x20 <= 0x66)
                            else { return false }
                            position += 1
                        }
                    default: return false
                    }
                default:
                    if byte < 0x20 { return false }
                }
            }
            return false
        }
    }
}
