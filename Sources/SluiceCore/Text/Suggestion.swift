/// "Did you mean …?" suggestions for misspelled names.
public enum Suggestion {
    /// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = max(1, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(Array(word.utf8), Array(candidate.utf8))
            if distance <= limit && distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
        }
        if let best { return best.0 }
        // A name written longer or shorter (`integer` for `int`): the one sharing the longest start.
        let prefixes = candidates.filter { $0.count >= 3 && (word.hasPrefix($0) || $0.hasPrefix(word)) }
        if let longest = prefixes.max(by: { min($0.count, word.count) < min($1.count, word.count) }) {
            return longest
        }
        // An abbreviation (`amt` for `amount`, `qty` for `quantity`): the one candidate that starts with
        // the word's first letter and holds all its letters in order.
        let abbreviated = candidates.filter { isAbbreviation(word, of: $0) }
        return abbreviated.count == 1 ? abbreviated[0] : nil
    }

    /// Whether `word` (two letters or more, shorter than `name`) starts as `name` does and has its
    /// letters in `name` in order, ignoring case.
    static func isAbbreviation(_ word: String, of name: String) -> Bool {
        let short = Array(word.lowercased().utf8)
        let long = Array(name.lowercased().utf8)
        guard short.count >= 2, short.count < long.count, short.first == long.first else { return false }
        var index = 0
        for byte in long where index < short.count && byte == short[index] { index += 1 }
        return index == short.count
    }

    /// Levenshtein distance, with a swap of two neighbours counting as one edit.
    public static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
