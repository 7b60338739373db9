#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock and monotonic time in milliseconds.
public enum Time {
    /// Milliseconds since the Unix epoch, from the real-time clock.
    public static func nowMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Nanoseconds from an arbitrary start, never going backwards; for measuring durations.
    public static func monotonicNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Sleeps the calling thread for `millis` milliseconds.
    public static func sleep(millis: Int) {
        guard millis > 0 else { return }
        var request = timespec(tv_sec: millis / 1000, tv_nsec: (millis % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
