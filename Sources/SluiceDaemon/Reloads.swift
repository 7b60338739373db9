import Logging
import Metrics
import SluiceCore
import SluiceKit
import SluiceRuntime

/// Reload requests, from SIGHUP and from `POST /v1/reload`, on one path: the pipeline's waiting thread
/// asks `check` every 100 ms; a new request reads the config file and validates it once (every request
/// that came meanwhile is answered by it). A valid, changed config waits in `pending` for the running
/// pipeline to drain; `applied` then answers the requests.
final class Reloads: Sendable {
    struct Outcome: Sendable {
        /// The last request this outcome answers.
        var sequence: Int
        /// applied, unchanged or refused.
        var result: String
        var problems: [String]
        var generation: Int
    }

    private struct State {
        var hangupsSeen = StopRequest.hangups
        var requested = 0
        var handled = 0
        var pending: (plan: PipelinePlan, bytes: [UInt8], sequence: Int)?
        var last: Outcome?
        var generation = 1
    }

    private let state = Locked(State())
    private let path: String
    private let logger: Logger

    init(path: String, logger: Logger) {
        self.path = path
        self.logger = logger
    }

    var generation: Int { state.withLock { $0.generation } }

    /// Counts a reload's result in `sluice_config_reloads_total`.
    private func count(_ result: String) {
        Counter(label: "sluice_config_reloads_total", dimensions: [("result", result)]).increment()
    }

    /// Asks for a reload; returns the number `outcome(answering:)` waits for.
    func request() -> Int {
        state.withLock { state in
            state.requested += 1
            return state.requested
        }
    }

    /// The outcome that answers request `sequence`, once there is one.
    func outcome(answering sequence: Int) -> Outcome? {
        state.withLock { state in
            guard let last = state.last, last.sequence >= sequence else { return nil }
            return last
        }
    }

    /// Whether a reload asks the running pipeline, started from `running` (the file's bytes), to drain.
    func check(running: [UInt8]) -> Bool {
        let hangups = StopRequest.hangups
        let sequence: Int? = state.withLock { state in
            guard state.pending == nil else { return nil }
            if hangups != state.hangupsSeen {
                state.hangupsSeen = hangups
                state.requested += 1
            }
            guard state.requested > state.handled else { return nil }
            state.handled = state.requested
            return state.handled
        }
        guard let sequence else { return false }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            refuse(sequence, ["cannot read \(path): \(error)"])
            return false
        }
        if bytes == running {
            logger.notice("reload: the config file is unchanged; nothing to restart")
            count("unchanged")
            state.withLock { state in
                state.last = Outcome(
                    sequence: sequence, result: "unchanged", problems: [], generation: state.generation)
            }
            return false
        }
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        do {
            let plan = try Preflight(
                loader: loader, connect: true, serverMayBeDown: true, continuous: true, logger: logger
            ).check(
                path: path)
            state.withLock { $0.pending = (plan, bytes, sequence) }
            logger.notice("reload: the new config is valid; applying it")
            return true
        } catch let error as ConfigError {
            refuse(sequence, error.problems.map { ($0.path.isEmpty ? "" : $0.path + ": ") + $0.message })
        } catch {
            refuse(sequence, ["\(error)"])
        }
        return false
    }

    private func refuse(_ sequence: Int, _ problems: [String]) {
        logger.error(
            "reload refused; the running config goes on",
            metadata: ["problems": "\(problems.joined(separator: "; "))"])
        count("refused")
        state.withLock { state in
            state.last = Outcome(
                sequence: sequence, result: "refused", problems: problems, generation: state.generation)
        }
    }

    /// Refuses the pending config with `problems` found once it was valid on its own (against the
    /// running broker); the running config goes on.
    func refusePending(_ problems: [ConfigProblem]) {
        guard
            let pending = state.withLock({ state -> Int? in
                defer { state.pending = nil }
                return state.pending?.sequence
            })
        else { return }
        refuse(pending, problems.map { ($0.path.isEmpty ? "" : $0.path + ": ") + $0.message })
    }

    /// The config a reload asks for, left pending.
    func peekPending() -> (plan: PipelinePlan, bytes: [UInt8], sequence: Int)? {
        state.withLock { $0.pending }
    }

    /// The config a drained pipeline is to be replaced with, if a reload asked for one.
    func takePending() -> (plan: PipelinePlan, bytes: [UInt8], sequence: Int)? {
        state.withLock { state in
            defer { state.pending = nil }
            return state.pending
        }
    }

    /// A pending config now runs: raises the generation and answers the requests.
    func applied(_ sequence: Int) -> Int {
        count("applied")
        return state.withLock { state in
            state.generation += 1
            state.last = Outcome(sequence: sequence, result: "applied", problems: [], generation: state.generation)
            return state.generation
        }
    }
}
