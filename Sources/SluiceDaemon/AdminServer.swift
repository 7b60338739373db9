import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceKit
import SluiceRuntime

/// The admin HTTP API: health, readiness, metrics, status, reload and validation, as JSON. It runs on
/// SwiftNIO's threads and reads the pipeline through its observer (counters under short locks), so
/// neither side waits for the other. Nothing that changes state answers a GET.
struct AdminServer: Sendable {
    let settings: AdminSettings
    let tokens: AdminTokens
    let observer: PipelineObserver
    let reloads: Reloads
    /// How many times the daemon ran the pipeline again after it failed on a cause that may pass.
    let restarts: Locked<Int>
    let controls: SinkControls
    let version: String
    let configPath: String
    let started = Date()
    let logger: Logger

    /// Starts listening; returns the address it listens on (a port 0 is chosen by the system) and the
    /// task that serves until cancelled. Throws when the address cannot be bound.
    func start() async throws -> (address: String, serving: Serving) {
        let address: BindAddress
        switch settings.listen {
        case .tcp(let host, let port): address = .hostname(host, port: port)
        case .unixSocket(let path):
            unlink(path)
            address = .unixDomainSocket(path: path)
        case .off: throw AdminError("the admin API is off")
        }
        let bound = Locked<Result<String, any Error>?>(nil)
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(
            router: router(),
            configuration: .init(address: address, serverName: "sluice"),
            onServerRunning: { channel in
                let text: String
                if let socket = channel.localAddress, let port = socket.port {
                    text = "http://\(socket.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "127.0.0.1"):\(port)"
                } else if case .unixSocket(let path) = settings.listen {
                    text = "unix:" + path
                } else {
                    text = "?"
                }
                bound.withLock { $0 = .success(text) }
            },
            logger: quiet
        )
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [], logger: quiet))
        let task = Task {
            do {
                try await group.run()
            } catch {
                bound.withLock { if $0 == nil { $0 = .failure(error) } }
                throw error
            }
            bound.withLock { if $0 == nil { $0 = .failure(AdminError("the admin server stopped")) } }
        }
        while true {
            if let result = bound.withLock({ $0 }) {
                switch result {
                case .success(let text): return (text, Serving(group: group, task: task))
                case .failure(let error): throw error
                }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The server while it runs.
    struct Serving: Sendable {
        let group: ServiceGroup
        let task: Task<Void, any Error>

        /// Stops the server gracefully (open requests are answered, listeners close) and waits for it.
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = await task.result
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: TokenMiddleware(tokens: tokens))
        router.add(middleware: MethodMiddleware())
        let (observer, reloads, version) = (observer, reloads, version)
        router.get("livez") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let phase = observer.phase
            let status = observer.status()
            var notRunning: [JSONValue] = []
            for source in status?.sources ?? [] where source.state == "failed" || source.state == "stopped" {
                notRunning.append(.object([("source", .string(source.name)), ("state", .string(source.state))]))
            }
            for sink in status?.sinks ?? [] where sink.state != "running" {
                var item: [(String, JSONValue)] = [("sink", .string(sink.name)), ("state", .string(sink.state))]
                if let error = sink.error { item.append(("error", .string(error))) }
                notRunning.append(.object(item))
            }
            let ready = phase == .running && notRunning.isEmpty
            return Self.json(
                .object([
                    ("ready", .bool(ready)), ("phase", .string(phase.rawValue)), ("not_running", .array(notRunning)),
                ]),
                status: ready ? .ok : .serviceUnavailable)
        }
        router.get("metrics") { _, _ -> Response in
            // The status reads the logs and the ledgers stat the files: off the cooperative pool.
            let (generation, version) = (reloads.generation, version)
            let text = try await Self.offPool {
                let status = observer.status()
                var files: [String: [SourceFile]] = [:]
                for source in status?.sources ?? [] { files[source.name] = observer.files(of: source.name) }
                return DaemonMetrics.shared.render(
                    status: status, files: files, phase: observer.phase, generation: generation, version: version)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("v1/status") { _, _ -> Response in
            let status = observer.status()
            // The pipeline's restarts and those of its sinks alone.
            let restarted = restarts.withLock { $0 } + (status?.sinks.reduce(0) { $0 + $1.restarts } ?? 0)
            var members: [(String, JSONValue)] = [
                ("phase", .string(observer.phase.rawValue)), ("generation", .number(String(reloads.generation))),
                ("config", .string(configPath)), ("pid", .number(String(getpid()))),
                ("uptime_seconds", .number(String(Int(Date().timeIntervalSince(started))))),
                ("restarts", .number(String(restarted))), ("version", .string(version)),
            ]
            if case .object(let parts)? = status?.json() { members += parts }
            return Self.json(.object(members))
        }
        router.get("v1/sources/:name/files") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            // It reads the files' sizes and tails: blocking I/O, off the cooperative pool.
            let ledger = try await Self.offPool { observer.files(of: name) }
            guard let files = ledger else {
                return Self.error(
                    "no source \"\(name)\" runs here; GET /v1/status lists the sources", status: .notFound)
            }
            return Self.json(.object([("source", .string(name)), ("files", .array(files.map(\.json)))]))
        }
        router.post("v1/sinks/:name/:action") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            let action = context.parameters.get("action") ?? ""
            guard ["pause", "resume", "restart"].contains(action) else {
                return Self.error("no such action \"\(action)\": pause, resume or restart", status: .notFound)
            }
            guard let status = observer.status() else {
                return Self.error(
                    "the pipeline is not running (it is starting, draining or waiting to restart); try again",
                    status: .serviceUnavailable)
            }
            guard status.sinks.contains(where: { $0.name == name }) else {
                let names = status.sinks.map(\.name).joined(separator: ", ")
                return Self.error("no sink \"\(name)\" runs here (sinks: \(names))", status: .notFound)
            }
            if action == "restart" {
                let directory = controls.dataDirectory
                if try await Self.offPool({ PausedSinks.load(directory).contains(name) }) {
                    return Self.json(
                        .object([
                            ("sink", .string(name)), ("result", .string("paused")),
                            ("message", .string("the sink is paused; resume it to start it")),
                        ]))
                }
                controls.restart(name)
                return Self.json(.object([("sink", .string(name)), ("result", .string("restarting"))]))
            }
            let changed = try await Self.offPool { try controls.set(name, paused: action == "pause") }
            let result =
                action == "pause" ? (changed ? "pausing" : "already paused") : (changed ? "resuming" : "not paused")
            return Self.json(.object([("sink", .string(name)), ("result", .string(result))]))
        }
        router.get("v1/groups/:group/offsets") { _, context -> Response in
            let group = context.parameters.get("group") ?? ""
            return try await Self.offPool { GroupOffsetsAPI.describe(group, observer) }
        }
        router.post("v1/groups/:group/offsets") { request, context -> Response in
            let group = context.parameters.get("group") ?? ""
            let body = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            return try await Self.offPool { GroupOffsetsAPI.change(group, body, observer) }
        }
        router.post("v1/reload") { _, _ -> Response in
            let sequence = reloads.request()
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                if let outcome = reloads.outcome(answering: sequence) {
                    return Self.json(
                        .object([
                            ("result", .string(outcome.result)),
                            ("generation", .number(String(outcome.generation))),
                            ("problems", .array(outcome.problems.map(JSONValue.string))),
                        ]), status: outcome.result == "refused" ? .unprocessableContent : .ok)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            return Self.error("the reload did not finish within 120 s; see the daemon's log", status: .gatewayTimeout)
        }
        router.post("v1/dlq/replay") { request, _ -> Response in
            let body = Array(buffer: try await request.body.collect(upTo: 1 << 20))
            return try await Self.offPool { DeadLetterReplayAPI.replay(body, observer) }
        }
        router.post("v1/validate") { request, context -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
            do {
                _ = try loader.load(bytes: Array(buffer: body), file: "request body", base: FileSystem.absolute("."))
                return Self.json(.object([("valid", .bool(true)), ("problems", .array([]))]))
            } catch let error as ConfigError {
                let problems = error.problems.map { problem -> JSONValue in
                    .object([("path", .string(problem.path)), ("message", .string(problem.message))])
                }
                return Self.json(
                    .object([("valid", .bool(false)), ("problems", .array(problems))]), status: .unprocessableContent)
            }
        }
        return router
    }

    /// Runs `body` (blocking file I/O) on a Dispatch thread, off Swift's cooperative pool.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(with: Result { try body() }) }
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized() + "\n")))
    }

    static func error(_ message: String, status: HTTPResponse.Status) -> Response {
        json(.object([("error", .string(message))]), status: status)
    }
}

/// The admin API's tokens: the admin one may do everything, the read-only one may only GET.
struct AdminTokens: Sendable {
    var admin: String?
    var read: String?
}

/// With a token configured, every request but the health checks must bring one as
/// `Authorization: Bearer TOKEN`: the admin token, or for a GET the read-only one.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let tokens: AdminTokens

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard tokens.admin != nil || tokens.read != nil, request.uri.path != "/livez", request.uri.path != "/readyz"
        else {
            return try await next(request, context)
        }
        let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        if let given, let admin = tokens.admin, Self.same(given, admin) { return try await next(request, context) }
        if let given, let read = tokens.read, Self.same(given, read) {
            guard request.method == .get || request.method == .head else {
                return AdminServer.error(
                    "this token may only read (GET); changing the daemon needs the admin token", status: .forbidden)
            }
            return try await next(request, context)
        }
        return AdminServer.error(
            "this request needs a token: send the header Authorization: Bearer TOKEN", status: .unauthorized)
    }

    /// Compares in time that does not depend on where the texts differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// Answers a request for a known path with a method it does not take with 405 and the methods it does
/// take (`Allow`), where the router alone would answer 404.
struct MethodMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// Every path of the API (`*`: any one segment) and its methods.
    static let routes: [(path: [String], methods: [HTTPRequest.Method])] = [
        (["livez"], [.get]), (["readyz"], [.get]), (["metrics"], [.get]),
        (["v1", "status"], [.get]), (["v1", "sources", "*", "files"], [.get]), (["v1", "sinks", "*", "*"], [.post]),
        (["v1", "groups", "*", "offsets"], [.get, .post]), (["v1", "reload"], [.post]), (["v1", "validate"], [.post]),
        (["v1", "dlq", "replay"], [.post]),
    ]

    static func methods(of path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/").map(String.init)
        return routes.first { route in
            route.path.count == segments.count && zip(route.path, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.methods ?? []
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = Self.methods(of: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method) else {
                return AdminServer.error(
                    "no such path: \(request.uri.path) (see the admin API in the README)", status: .notFound)
            }
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            var response = AdminServer.error(
                "\(request.uri.path) does not take \(request.method.rawValue); it takes \(names)",
                status: .methodNotAllowed)
            response.headers[.allow] = names
            return response
        }
    }
}

public struct AdminError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Why a listener could not bind, in the system's words (`Address already in use`), not SwiftNIO's
/// description of the call that failed.
enum ListenFailure {
    static func reason(_ error: any Error) -> String {
        guard let error = error as? IOError else { return "\(error)" }
        return String(cString: strerror(error.errnoCode))
    }
}

extension AdminSettings.Listen {
    /// The address as the config writes it.
    var described: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): path
        case .off: "off"
        }
    }
}
