import SluiceCore
import Testing

@testable import SluiceLog

@Suite struct SyncTimingTests {
    /// The daemon listens for every fsync's duration for as long as it runs. The listener used to be
    /// wrapped once more on each report, so that each call went one level deeper than the last: a
    /// million reports (a busy daemon's day) ran out of stack. Now the millionth call is as cheap as the
    /// first.
    @Test func aListenerIsCalledTheSameWayTheMillionthTime() {
        let reported = Locked<UInt64>(0)
        SyncTiming.listen { nanoseconds in reported.withLock { $0 += nanoseconds } }
        defer { SyncTiming.listen(nil) }
        for _ in 0..<1_000_000 { SyncTiming.record(1) }
        // Other tests may fsync meanwhile and report too.
        #expect(reported.withLock { $0 } >= 1_000_000)
    }
}
