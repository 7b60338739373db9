#if canImport(Glibc)
    import Glibc
#endif

/// Scheduling priority of the calling thread.
public enum ThreadPriority {
    /// Lowers the calling thread's priority by `niceness`. On Linux the nice value belongs to each thread,
    /// and `setpriority(PRIO_PROCESS, 0, …)` sets the calling thread's. A thread cannot raise it again
    /// without privileges, so this is for threads that keep their role. The corresponding C function is
    /// `setpriority`.
    public static func lowerCurrentThread(by niceness: Int32) {
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0 else { return }
        _ = setpriority(which, 0, min(19, current + niceness))
    }
}
