import SluiceCore
import Testing

@Suite struct TimestampTests {
    static let cases: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_000, "1970-01-01T00:00:01.000Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_779_359_400_007, "2026-05-21T10:30:00.007Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-86_400_001, "1969-12-30T23:59:59.999Z"),
        (-1_000, "1969-12-31T23:59:59.000Z"),
    ]

    @Test(arguments: cases)
    func iso8601(millis: Int64, text: String) {
        #expect(Timestamp.iso8601(millis: millis) == text)
    }
}
