import SluiceCore
import SluiceRuntime

/// Pause, resume and restart of sinks (`POST /v1/sinks/NAME/pause`, `/resume`, `/restart`, and
/// `sluice pause` and `resume`). A pause or resume changes the paused set in the data directory
/// (`PausedSinks`), so that it holds through a restart of the daemon; then the running pipeline stops
/// the sink's tasks (each commits the batch in hand) or starts them, while every other source and sink
/// goes on (`Pipeline.Change`). A restart stops the sink's tasks and starts them again.
final class SinkControls: Sendable {
    private let state = Locked<(dataDirectory: String, restart: Set<String>)>(("data", []))

    /// The data directory of the config that runs, where the paused set is kept.
    var dataDirectory: String {
        get { state.withLock { $0.dataDirectory } }
        set { state.withLock { $0.dataDirectory = newValue } }
    }

    /// Takes the sinks to stop and start again, if a control asked for any.
    func takeRestart() -> Set<String>? {
        state.withLock { state in
            defer { state.restart = [] }
            return state.restart.isEmpty ? nil : state.restart
        }
    }

    /// Pauses or resumes `sink`; returns whether that changed anything (its tasks stop or start then).
    func set(_ sink: String, paused: Bool) throws -> Bool {
        let changed = try PausedSinks.set(sink, paused: paused, in: dataDirectory)
        if changed { restart(sink) }
        return changed
    }

    func restart(_ sink: String) {
        state.withLock { _ = $0.restart.insert(sink) }
    }
}
