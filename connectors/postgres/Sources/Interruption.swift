import Glibc
import Synchronization

/// A request, from another thread, that the sink's blocking work end now: a flag, and a pipe whose
/// read end the connection polls beside its socket, so a wait ends the moment the flag is raised.
///
/// Raised once and never lowered: a sink is interrupted because its run is stopping. Thread-safe; the
/// pipe is closed when the object goes away, which cannot happen while a caller still holds it.
final class Interruption: Sendable {
    private let flag = Atomic<Bool>(false)
    /// The pipe's read end, readable (and never drained) once the flag is raised; -1 when no pipe could
    /// be made, and then waits fall back to checking the flag every 50 ms.
    let descriptor: Int32
    private let writeEnd: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
            descriptor = ends[0]
            writeEnd = ends[1]
        } else {
            descriptor = -1
            writeEnd = -1
        }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
        if writeEnd >= 0 { Glibc.close(writeEnd) }
    }

    /// Raises the flag and wakes any wait. Safe from any thread, any number of times.
    func raise() {
        guard !flag.exchange(true, ordering: .sequentiallyConsistent), writeEnd >= 0 else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(writeEnd, &byte, 1)
    }

    var isRaised: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
