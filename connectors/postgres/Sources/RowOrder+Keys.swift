import Glibc
import SluiceCore

extension RowOrder {
    /// One column's key of one record: a number, or text held in the extractor's `text`.
    struct Key {
        /// 0: none (no value, no such field, or null); 1: a number; 2: text.
        var rank: UInt8
        /// For numbers, a value whose unsigned order is the numbers' order; for text, its first eight
        /// bytes, big-endian, zero-padded, so that most comparisons end here.
        var prefix: UInt64
        var start: Int32
        var length: Int32

        static let none = Key(rank: 0, prefix: 0, start: 0, length: 0)

        /// Compares the `width` keys from `i` with those from `j`: negative, zero or positive.
        @inline(__always)
        static func compare(
            _ keys: UnsafeBufferPointer<Key>, _ i: Int, _ j: Int, _ width: Int, _ text: UnsafeRawBufferPointer
        ) -> Int {
            for column in 0..<width {
                let a = keys[i + column]
                let b = keys[j + column]
                if a.rank != b.rank { return a.rank < b.rank ? -1 : 1 }
                if a.prefix != b.prefix { return a.prefix < b.prefix ? -1 : 1 }
                guard a.rank == 2 else { continue }
                if a.length > 8 && b.length > 8, let base = text.baseAddress {
                    let common = Int(min(a.length, b.length)) - 8
                    let order = memcmp(base + Int(a.start) + 8, base + Int(b.start) + 8, common)
                    if order != 0 { return Int(order) }
                }
                if a.length != b.length { return a.length < b.length ? -1 : 1 }
            }
            return 0
        }
    }

    /// Reads the key fields out of record values, one record after the other, into `keys` (`width`
    /// per record) and `text`.
    struct KeyExtractor {
        let names: JSONFieldNames
        let comparisons: [Comparison]
        private(set) var keys: [Key] = []
        private(set) var text: [UInt8] = []

        init(fields: [String], comparisons: [Comparison], capacity: Int) {
            names = JSONFieldNames(fields.map { Array($0.utf8) })
            self.comparisons = comparisons
            keys.reserveCapacity(capacity * fields.count)
        }

        /// Appends the keys of `records`, whose values lie in `arena`. Stops reading a value once it
        /// has every key field.
        mutating func extract(_ records: ArraySlice<Record>, in arena: UnsafeRawBufferPointer) {
            let width = names.count
            let (names, comparisons) = (names, comparisons)
            // Worked on as locals, so that the loop touches no property of `self`.
            var (keys, text) = (self.keys, self.text)
            (self.keys, self.text) = ([], [])
            defer { (self.keys, self.text) = (keys, text) }
            var found = [Key](repeating: .none, count: width)
            var seen = [Bool](repeating: false, count: width)
            found.withUnsafeMutableBufferPointer { found in
                seen.withUnsafeMutableBufferPointer { seen in
                    for record in records {
                        for i in 0..<width {
                            found[i] = .none
                            seen[i] = false
                        }
                        if let range = record.valueRange {
                            let value = UnsafeRawBufferPointer(rebasing: arena[range])
                            var missing = width
                            var next = 0
                            try? JSONObjectScanner.forEachMember(value) { member in
                                let column = names.index(of: member, in: value, hint: next)
                                guard column >= 0 else { return true }
                                next = column + 1
                                if !seen[column] {
                                    seen[column] = true
                                    missing -= 1
                                }
                                found[column] = Self.key(member, in: value, comparisons[column], text: &text)
                                return missing > 0
                            }
                        }
                        keys.append(contentsOf: found)
                    }
                }
            }
        }

        private static func key(
            _ member: JSONObjectScanner.Member, in value: UnsafeRawBufferPointer, _ comparison: Comparison,
            text: inout [UInt8]
        ) -> Key {
            guard member.kind != .null else { return .none }
            let raw = UnsafeRawBufferPointer(rebasing: value[member.value])
            let plain = member.kind != .string || !member.valueEscaped
            if plain && comparison == .integer, let number = integer(raw) {
                return Key(rank: 1, prefix: UInt64(bitPattern: number) ^ (1 << 63), start: 0, length: 0)
            }
            if plain && comparison == .number, let number = number(raw) {
                let bits = number.bitPattern
                return Key(rank: 1, prefix: bits >> 63 == 1 ? ~bits : bits | (1 << 63), start: 0, length: 0)
            }
            let start = text.count
            if member.kind == .string && member.valueEscaped {
                JSONObjectScanner.appendUnescaped(value, member.value, to: &text)
            } else {
                text.append(contentsOf: raw)
            }
            var prefix: UInt64 = 0
            for k in 0..<8 { prefix = prefix << 8 | UInt64(start + k < text.count ? text[start + k] : 0) }
            return Key(rank: 2, prefix: prefix, start: Int32(start), length: Int32(text.count - start))
        }

        /// The integer a field's text spells (an optional sign, then digits), if it fits 64 bits.
        static func integer(_ text: UnsafeRawBufferPointer) -> Int64? {
            var i = 0
            var negative = false
            if let sign = text.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                negative = sign == UInt8(ascii: "-")
                i = 1
            }
            guard i < text.count else { return nil }
            var value: Int64 = 0
            while i < text.count {
                let digit = Int64(text[i]) - 48
                guard digit >= 0 && digit <= 9 else { return nil }
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) =
                    negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
                guard !o1 && !o2 else { return nil }
                value = sum
                i += 1
            }
            return value
        }

        /// The number a field's text spells, as `strtod` reads it, when all of it is the number.
        static func number(_ text: UnsafeRawBufferPointer) -> Double? {
            guard !text.isEmpty, text.count < 64 else { return nil }
            var buffer = [CChar](repeating: 0, count: text.count + 1)
            for (k, byte) in text.enumerated() { buffer[k] = CChar(bitPattern: byte) }
            return buffer.withUnsafeBufferPointer { chars -> Double? in
                guard let base = chars.baseAddress else { return nil }
                var end: UnsafeMutablePointer<CChar>?
                let value = strtod(base, &end)
                guard let end, base.distance(to: end) == text.count, !value.isNaN else { return nil }
                return value
            }
        }
    }
}
