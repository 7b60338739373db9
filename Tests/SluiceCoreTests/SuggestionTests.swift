import SluiceCore
import Testing

@Suite struct SuggestionTests {
    static let options = ["delimiter", "quote", "escape", "header", "column_names", "skip_rows", "null_values"]

    @Test func typosFindTheirOption() {
        #expect(Suggestion.closest(to: "delimter", in: Self.options) == "delimiter")
        #expect(Suggestion.closest(to: "qoute", in: Self.options) == "quote")
        #expect(Suggestion.closest(to: "headr", in: Self.options) == "header")
        #expect(Suggestion.closest(to: "skip_row", in: Self.options) == "skip_rows")
        #expect(Suggestion.closest(to: "nul_values", in: Self.options) == "null_values")
    }

    @Test func aPrefixSuggestsTheShorterName() {
        #expect(Suggestion.closest(to: "integer", in: ["string", "int", "float", "decimal"]) == "int")
        #expect(Suggestion.closest(to: "bool", in: ["string", "boolean"]) == "boolean")
        #expect(Suggestion.closest(to: "datetime", in: ["string", "timestamp", "date"]) == "date")
        #expect(Suggestion.closest(to: "key_sep", in: ["key", "key_separator"]) == "key_separator")
    }

    /// Column names people shorten: the one name the abbreviation fits, and none when several do.
    @Test func anAbbreviationSuggestsTheNameItShortens() {
        let header = ["order_id", "customer", "amount", "quantity", "status", "note"]
        #expect(Suggestion.closest(to: "amt", in: header) == "amount")
        #expect(Suggestion.closest(to: "qty", in: header) == "quantity")
        #expect(Suggestion.closest(to: "Amt", in: header) == "amount")
        #expect(Suggestion.closest(to: "sts", in: ["status", "states"]) == nil)
        #expect(Suggestion.closest(to: "ts", in: header) == nil)
    }

    /// A typo of a long name is not taken for a shorter name that happens to start it.
    @Test func aCloseTypoWinsOverAPrefix() {
        let csv = ["type", "topic", "path", "key", "key_separator", "columns", "column_names", "quote"]
        #expect(Suggestion.closest(to: "key_separators", in: csv) == "key_separator")
        #expect(Suggestion.closest(to: "columns_names", in: csv) == "column_names")
        #expect(Suggestion.closest(to: "topics", in: csv) == "topic")
    }

    @Test func nothingCloseSuggestsNothing() {
        #expect(Suggestion.closest(to: "banana", in: Self.options) == nil)
        #expect(Suggestion.closest(to: "xyz", in: ["abc", "def"]) == nil)
        #expect(Suggestion.closest(to: "anything", in: []) == nil)
    }

    @Test func editDistanceCountsASwapAsOneEdit() {
        func distance(_ a: String, _ b: String) -> Int { Suggestion.editDistance(Array(a.utf8), Array(b.utf8)) }
        #expect(distance("", "abc") == 3)
        #expect(distance("abc", "") == 3)
        #expect(distance("abc", "abc") == 0)
        #expect(distance("abc", "acb") == 1)
        #expect(distance("kitten", "sitting") == 3)
        #expect(distance("delimter", "delimiter") == 1)
    }
}
