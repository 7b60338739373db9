import SluiceCore

/// Calls `emit` every `intervalMillis` on its own thread until stopped.
final class ProgressReporter: @unchecked Sendable {
    private let signal = ChangeSignal()
    private let stopped = Locked(false)
    private var thread: WorkerThread?

    init(intervalMillis: Int, emit: @escaping @Sendable () -> Void) {
        let signal = signal
        let stopped = stopped
        thread = WorkerThread(name: "progress") {
            var seen = signal.current
            while !stopped.withLock({ $0 }) {
                seen = signal.wait(since: seen, timeoutMillis: intervalMillis)
                if stopped.withLock({ $0 }) { break }
                emit()
            }
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        signal.notify()
        thread?.join()
    }
}

/// The progress line of running sources: bytes read of the total, rows/s and an estimate of the time left.
enum ProgressLine {
    static func render(_ sources: [(name: String, report: SourceTask.Report)], sinks: String = "") -> String {
        let line = sources.map { name, report in
            let p = report.progress
            let rate = report.seconds > 0 ? Double(p.rowsRead) / report.seconds : 0
            var text = "\(name): "
            if p.bytesTotal > 0 {
                // A resumed file reads its header again, a little more than what was left of it.
                let done = min(p.bytesRead, p.bytesTotal)
                let percent = Int(Double(done) * 100 / Double(p.bytesTotal))
                text += "\(Format.bytes(done)) of \(Format.bytes(p.bytesTotal)) (\(percent)%), "
            }
            text += "\(Format.count(p.rowsRead)) rows, \(Format.count(Int(rate))) rows/s"
            if p.bytesRead > 0 && p.bytesTotal > p.bytesRead && report.seconds > 0 {
                let eta = Double(p.bytesTotal - p.bytesRead) / (Double(p.bytesRead) / report.seconds)
                text += ", ETA \(Format.seconds(eta))"
            }
            return text
        }.joined(separator: " | ")
        return sinks.isEmpty ? line : (line.isEmpty ? sinks : line + " | " + sinks)
    }
}
