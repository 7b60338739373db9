import SluiceCore
import SluiceRuntime

/// Pause, resume and restart of sinks (`POST /v1/sinks/NAME/pause`, `/resume`, `/restart`, and
/// `sluice pause` and `resume`). A pause or resume changes the paused set in the data directory
/// (`PausedSinks`), so that it holds through a restart of the daemon; then, as a reload does, the running
/// pipeline drains (each sink commits the batch in hand) and starts again with the sink's tasks stopped
/// or started. A restart only drains and starts again.
final class SinkControls: Sendable {
    private let state = Locked<(dataDirectory: String, restart: Bool)>(("data", false))

    /// The data directory of the config that runs, where the paused set is kept.
    var dataDirectory: String {
        get { state.withLock { $0.dataDirectory } }
        set { state.withLock { $0.dataDirectory = newValue } }
    }

    /// Whether a control asks the running pipeline to drain and start again.
    var restartRequested: Bool { state.withLock { $0.restart } }

    /// Takes the request to start again, if there is one.
    func takeRestart() -> Bool {
        state.withLock { state in
            defer { state.restart = false }
            return state.restart
        }
    }

    /// Pauses or resumes `sink`; returns whether that changed anything (a restart is asked for then).
    func set(_ sink: String, paused: Bool) throws -> Bool {
        let changed = try PausedSinks.set(sink, paused: paused, in: dataDirectory)
        if changed { restart() }
        return changed
    }

    func restart() {
        state.withLock { $0.restart = true }
    }
}
