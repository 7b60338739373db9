import Glibc

/// glibc's allocator gives each thread that allocates (source, read-ahead, sink tasks, workers) an
/// arena of its own, which keeps the batches freed in it: a 1,000,000-row PostgreSQL load peaked at
/// 173 MB with the default and 133 MB with one arena, in the same time and with less CPU
/// (Benchmarks/postgres.sh, MALLOC_ARENA_MAX=1); glibc's per-thread caches keep the small
/// allocations from contending for it.
enum MallocArenas {
    /// One arena, unless MALLOC_ARENA_MAX says otherwise.
    static func useOne() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        // mallopt and M_ARENA_MAX come from <malloc.h>, which the Glibc module does not import.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let arenaMax: Int32 = -8
        _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, 1)
    }
}
