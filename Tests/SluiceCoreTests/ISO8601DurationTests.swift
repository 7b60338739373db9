import SluiceCore
import Testing

/// `groups reset-offsets --by-duration` reads ISO 8601 durations as Kafka's tool does.
@Suite struct ISO8601DurationTests {
    @Test(
        arguments: [
            ("PT1H", 3_600_000), ("P1D", 86_400_000), ("PT30M", 1_800_000), ("PT45S", 45_000),
            ("P1DT12H", 129_600_000), ("PT0.5S", 500), ("pt1h30m", 5_400_000), ("P2W", 1_209_600_000),
            ("PT1H0M0.25S", 3_600_250), ("P0D", 0),
        ] as [(String, Int64)])
    func readsADuration(_ text: String, _ millis: Int64) {
        #expect(ISO8601.parseDurationMillis(text) == millis)
    }

    @Test(arguments: [
        "", "P", "PT", "1H", "PT1", "P1H", "PT1D", "P1M", "P1Y", "-PT1H", "PT-1H", "P1DT", "PT1M1H", "PT1.5M",
        "PT1HT1M", "P1D1D", "PT.5S", "P99999999999999999999D", "P106751991167301D", "1 hour",
    ])
    func refusesWhatIsNotADuration(_ text: String) {
        #expect(ISO8601.parseDurationMillis(text) == nil)
    }
}
