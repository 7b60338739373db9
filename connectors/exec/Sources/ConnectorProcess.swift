import CSpawn
import Logging
import SluiceCore
import SluiceKit

#if canImport(Glibc)
    import Glibc
#endif

/// An external connector's process: started with pipes for its standard input and output (the
/// protocol) and standard error (its log, carried line by line into Sluice's log with its name).
///
/// The process gets its own process group, so that a Ctrl-C in the terminal reaches Sluice alone, which
/// then stops the connector in order, and default signal dispositions, whatever Sluice ignores.
final class ConnectorProcess: @unchecked Sendable {
    let pid: pid_t
    let channel: FrameChannel
    let command: [String]
    private let errorReader: WorkerThread
    /// The last lines the connector wrote to its standard error, for messages about its failure.
    private let errorTail: Locked<[String]>
    private let exitStatus = Locked<Int32?>(nil)
    private let inputClosed = Locked(false)

    /// Set once the process has exited, for the reader of its standard error.
    private let exited: Locked<Bool>

    private init(
        pid: pid_t, channel: FrameChannel, command: [String], errorReader: WorkerThread, errorTail: Locked<[String]>,
        exited: Locked<Bool>
    ) {
        self.exited = exited
        self.pid = pid
        self.channel = channel
        self.command = command
        self.errorReader = errorReader
        self.errorTail = errorTail
    }

    /// Linux's F_SETPIPE_SZ, which Glibc's module does not export.
    private static let setPipeSize: Int32 = 1031

    /// Starts `command` (its first element found on PATH when it has no slash) in `directory` (Sluice's
    /// own when nil).
    static func start(command: [String], directory: String?, name: String, logger: Logger) throws
        -> ConnectorProcess
    {
        guard let program = command.first, !program.isEmpty else {
            throw ConnectorError.fatal("exec.command", "the command is empty")
        }
        signal(SIGPIPE, SIG_IGN)
        // One connector starts at a time: a program started while another's pipes are being made would
        // inherit them (they are not yet close-on-exec), and hold them open after that one exits.
        return try spawnLock.withLock { _ in
            try spawn(command: command, program: program, directory: directory, name: name, logger: logger)
        }
    }

    private static let spawnLock = Locked(())

    private static func spawn(command: [String], program: String, directory: String?, name: String, logger: Logger)
        throws -> ConnectorProcess
    {
        if let directory, FileSystem.kind(directory) != .directory {
            throw ConnectorError.fatal("exec.working_directory", "\(directory) is not a folder")
        }
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        for index in 0..<3 {
            let made = index == 0 ? pipe(&toChild) : index == 1 ? pipe(&fromChild) : pipe(&errors)
            guard made == 0 else {
                throw ConnectorError.transient("exec.start", "cannot make a pipe: \(String(cString: strerror(errno)))")
            }
        }
        // Sluice's ends stay out of other programs it starts.
        for descriptor in toChild + fromChild + errors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        // Larger pipes: fewer wake-ups per batch (F_SETPIPE_SZ; the kernel may give less).
        _ = fcntl(toChild[1], Self.setPipeSize, Int32(1 << 20))
        _ = fcntl(fromChild[1], Self.setPipeSize, Int32(1 << 20))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        if let directory { sluice_spawn_add_chdir(&actions, directory) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = argv.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { posix_spawnp(&pid, program, &actions, &attributes, $0, environ) } ?? EINVAL
        }
        close(toChild[0])
        close(fromChild[1])
        close(errors[1])
        guard spawned == 0 else {
            close(toChild[1])
            close(fromChild[0])
            close(errors[0])
            throw ConnectorError.fatal(
                "exec.start", "cannot start \(program): \(String(cString: strerror(spawned)))")
        }
        // An exit from a second Ctrl-C kills the connector too (it is in a group of its own).
        StopRequest.addChildGroup(pid)
        let errorFile = errors[0]
        let child = pid
        let tail = Locked<[String]>([])
        let exited = Locked(false)
        let reader = WorkerThread(name: "exec-stderr") {
            Self.forwardErrors(errorFile, name: name, pid: child, logger: logger, tail: tail, exited: exited)
        }
        return ConnectorProcess(
            pid: pid, channel: FrameChannel(input: fromChild[0], output: toChild[1]), command: command,
            errorReader: reader, errorTail: tail, exited: exited)
    }

    /// The connector's last lines of standard error, joined, for an error message.
    var lastErrors: String {
        errorTail.withLock { $0 }.suffix(8).joined(separator: " | ")
    }

    /// Passes the connector's standard error to the log, line by line, until it closes, or until the
    /// process has exited and nothing came for a moment (a program it started may hold it open).
    private static func forwardErrors(
        _ file: Int32, name: String, pid: pid_t, logger: Logger, tail: Locked<[String]>, exited: Locked<Bool>
    ) {
        defer { close(file) }
        var quietAfterExit = 0
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        func emit(_ line: ArraySlice<UInt8>) {
            let text = String(decoding: line.prefix(4096), as: UTF8.self)
            guard !text.isEmpty else { return }
            // A connector's standard error is its log (and where stray prints go): shown by default.
            logger.notice("\(text)", metadata: ["connector": "\(name)", "pid": "\(pid)"])
            tail.withLock { lines in
                lines.append(text)
                if lines.count > 20 { lines.removeFirst(lines.count - 20) }
            }
        }
        while true {
            var descriptor = pollfd(fd: file, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 100) == 0 {
                if exited.withLock({ $0 }) {
                    quietAfterExit += 1
                    if quietAfterExit >= 3 { break }
                }
                continue
            }
            let got = chunk.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            pending.append(contentsOf: chunk[0..<got])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
            if pending.count > 65536 {
                emit(pending[...])
                pending.removeAll()
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
    }

    /// Kills the process at once (SIGKILL).
    func kill() {
        if exitStatus.withLock({ $0 }) == nil { _ = Glibc.kill(pid, SIGKILL) }
    }

    /// Waits up to `timeoutMillis` for the process to exit; its status (128 + signal when a signal
    /// ended it), nil when it still runs.
    func waitExit(timeoutMillis: Int) -> Int32? {
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        while true {
            if let status = exitStatus.withLock({ $0 }) { return status }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                StopRequest.removeChildGroup(pid)
                let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                exitStatus.withLock { $0 = code }
                exited.withLock { $0 = true }
                return code
            }
            if result < 0 && errno != EINTR { return -1 }
            if Time.monotonicNanos() >= deadline { return nil }
            Time.sleep(millis: 5)
        }
    }

    /// Ends the process: closes its input (the protocol's stop), gives it `graceMillis` to exit, then
    /// sends SIGTERM and a second moment, then kills it; releases the pipes. Returns its exit status.
    @discardableResult
    func finish(graceMillis: Int) -> Int32 {
        closeInputOnce()
        var status = waitExit(timeoutMillis: graceMillis)
        if status == nil {
            _ = Glibc.kill(pid, SIGTERM)
            status = waitExit(timeoutMillis: 1_000)
        }
        if status == nil {
            kill()
            status = waitExit(timeoutMillis: 5_000)
        }
        _ = errorReader.join()
        close(channel.input)
        return status ?? -1
    }

    /// Closes the connector's standard input: the protocol's way of saying that nothing more comes.
    func closeInputOnce() {
        let first = inputClosed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { close(channel.output) }
    }

    /// How the process ended, for messages: "exited with status 1", "was killed by signal 9".
    func describeExit(_ status: Int32) -> String {
        if status > 128 { return "was killed by signal \(status - 128)" }
        if status < 0 { return "ended" }
        return "exited with status \(status)"
    }
}
