import Logging
import SluiceCore
import SluiceKit

/// A started external connector whose hello was read and checked: the process, its channel, what it
/// declared and the protocol version both sides speak.
final class ExternalConnection: @unchecked Sendable {
    let process: ConnectorProcess
    let declaration: ConnectorDeclaration
    let version: Int
    /// The connector's name in the config, for messages.
    let name: String

    var channel: FrameChannel { process.channel }

    private init(process: ConnectorProcess, declaration: ConnectorDeclaration, version: Int, name: String) {
        self.process = process
        self.declaration = declaration
        self.version = version
        self.name = name
    }

    /// Starts `command`, reads its hello within `helloTimeoutMillis` and checks its role. Errors are
    /// fatal when they come from what the connector is (a wrong role, no common version, a malformed
    /// hello), transient when the process could not be started for a passing reason.
    static func start(
        command: [String], directory: String? = nil, name: String, role: ConnectorSpec.Kind?, logger: Logger,
        helloTimeoutMillis: Int = 30_000
    ) throws -> ExternalConnection {
        let process = try ConnectorProcess.start(command: command, directory: directory, name: name, logger: logger)
        let shown = command.joined(separator: " ")
        func fail(_ message: String) -> ConnectorError {
            let status = process.finish(graceMillis: 1_000)
            let errors = process.lastErrors
            return ConnectorError.fatal(
                "exec.hello",
                "connector \(name) (\(shown)): \(message); it \(process.describeExit(status))"
                    + (errors.isEmpty ? "" : "; its last errors: \(errors)"))
        }
        guard process.channel.waitReadable(timeoutMillis: helloTimeoutMillis) else {
            throw fail("no hello within \(helloTimeoutMillis / 1000) s (a connector writes its hello line first)")
        }
        let declaration: ConnectorDeclaration
        // Lines before the hello that are not JSON objects (a library's banner printed at import, before
        // an SDK could protect the channel) are passed to the log and skipped.
        var stray: [UInt8]?
        do {
            var line = try process.channel.readLine(limit: 1 << 20, timeoutMillis: helloTimeoutMillis)
            var skipped = 0
            while line.first(where: { $0 != 0x20 && $0 != 0x09 }) != UInt8(ascii: "{") && skipped < 1000 {
                logger.warning(
                    "output before its hello: \(String(decoding: line.prefix(500), as: UTF8.self))",
                    metadata: ["connector": "\(name)"])
                stray = line
                skipped += 1
                line = try process.channel.readLine(limit: 1 << 20, timeoutMillis: helloTimeoutMillis)
            }
            let hello: JSONValue
            do {
                hello = try JSONValue.parse(line)
            } catch {
                throw ExternalProtocolError(
                    "the first line is not JSON (\(error)): \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            declaration = try ConnectorDeclaration(hello: hello)
        } catch let error as ExternalProtocolError {
            let wrote = stray.map {
                " (it wrote \"\(String(decoding: $0.prefix(200), as: UTF8.self))\", which is not a hello: a connector's "
                    + "first line on standard output is its hello)"
            }
            throw fail((error.closed ? "it ended before its hello" : error.message) + (wrote ?? ""))
        }
        if let role, declaration.role != role {
            throw fail("it is a \(declaration.role.rawValue), not a \(role.rawValue)")
        }
        guard let version = declaration.agreedVersion else {
            throw fail(
                "it speaks protocol versions \(declaration.protocolVersions), this Sluice speaks \(ExternalProtocol.versions)"
            )
        }
        process.channel.use(declaration.framing)
        return ExternalConnection(process: process, declaration: declaration, version: version, name: name)
    }

    /// How long a connector may take to answer `open` (it may connect to a database first).
    static let openTimeoutMillis = 60_000

    /// Sends `message` and waits for the reply, which must be of type `expecting` or an error; with
    /// `timeoutMillis`, no reply by then is a protocol error (for messages that must not hang Sluice).
    @discardableResult
    func request(_ message: JSONValue, expecting: String, timeoutMillis: Int? = nil) throws -> JSONValue {
        try channel.send(message)
        if let timeoutMillis {
            // In slices, so that a stop request (Ctrl-C) need not wait for a connector that never answers.
            let deadline = Time.monotonicNanos() + UInt64(timeoutMillis) * 1_000_000
            while !channel.waitReadable(timeoutMillis: 200) {
                let what = "\"\(message["type"]?.stringValue ?? "")\""
                if StopRequest.isRequested {
                    throw ConnectorError.fatal(
                        "exec.stopped", "connector \(name): stopped while it had not answered \(what)")
                }
                if Time.monotonicNanos() >= deadline {
                    throw ExternalProtocolError("no answer to \(what) within \(timeoutMillis / 1000) s")
                }
            }
        }
        return try reply(expecting: expecting)
    }

    /// Reads the next message, which must be a control message of type `expecting` (or an error, thrown
    /// with its class). Log messages are passed to the log on the way.
    func reply(expecting: String) throws -> JSONValue {
        while true {
            let message = try channel.receive()
            guard case .control(let value) = message else {
                throw ExternalProtocolError("a records frame where \"\(expecting)\" was expected")
            }
            switch value["type"]?.stringValue {
            case expecting?: return value
            case "error"?: throw Self.error(value, name: name)
            case let other?:
                throw ExternalProtocolError("a \"\(other)\" message where \"\(expecting)\" was expected")
            case nil: throw ExternalProtocolError("a message without a type")
            }
        }
    }

    /// The connector's error message as a `ConnectorError` of its class.
    static func error(_ value: JSONValue, name: String) -> ConnectorError {
        let text = value["message"]?.stringValue ?? "no message given"
        let kind = value["class"]?.stringValue.flatMap(ExternalProtocol.FailureClass.init(rawValue:)) ?? .fatal
        let code = value["code"]?.stringValue ?? "exec.\(kind.rawValue)"
        return ConnectorError(kind.kind, code, "connector \(name): \(text)")
    }

    /// What a broken channel means, as a transient error (the connector is restarted): how the process
    /// ended and what it last wrote to its standard error. Kills the process if it still runs.
    func broken(_ error: ExternalProtocolError) -> ConnectorError {
        if !error.closed {
            try? channel.send(.message("error", [("class", .string("fatal")), ("message", .string(error.message))]))
        }
        let status = process.finish(graceMillis: error.closed ? 2_000 : 0)
        let errors = process.lastErrors
        let what = error.closed ? "it \(process.describeExit(status))" : "it broke the protocol: \(error.message)"
        return ConnectorError.transient(
            error.closed ? "exec.exited" : "exec.protocol",
            "connector \(name): \(what)" + (errors.isEmpty ? "" : "; its last errors: \(errors)"))
    }

    /// The options the connector declared, with their values, for its `open`.
    func declaredOptions(_ options: ConnectorOptions) -> JSONValue {
        .object(declaration.options.compactMap { option in options[option.name].map { (option.name, $0) } })
    }
}

/// Learning what an external connector is: its hello, without opening it.
public enum ExternalConnectors {
    /// Starts `command`, reads its hello and ends it (closing its input).
    public static func describe(command: [String], name: String, logger: Logger, timeoutMillis: Int = 10_000) throws
        -> ConnectorDeclaration
    {
        let connection = try ExternalConnection.start(
            command: command, name: name, role: nil, logger: logger, helloTimeoutMillis: timeoutMillis)
        connection.process.finish(graceMillis: 2_000)
        return connection.declaration
    }
}

extension ExternalConnectors {
    /// Sends a connector malformed messages, one per start: a frame of an unknown kind, a control
    /// message that is not JSON, a frame cut short by the end of its input. Each must be refused with
    /// an error message or an exit, within five seconds. Returns, per probe, the problem (nil: refused).
    public static func probeMalformedMessages(command: [String], role: ConnectorSpec.Kind) -> [(
        name: String, problem: String?
    )] {
        let probes: [(String, [UInt8])] = [
            ("refuses a frame of an unknown kind", [1, 0, 0, 0, 9]),
            ("refuses a control message that is not JSON", [6, 0, 0, 0, 1] + Array("{oops".utf8)),
            ("ends on a frame cut short", [200, 0, 0, 0, 2, 0, 0]),
        ]
        var logger = Logger(label: "sluice.exec.probe")
        logger.logLevel = .critical
        return probes.map { name, bytes in
            let connection: ExternalConnection
            do {
                connection = try ExternalConnection.start(command: command, name: "probe", role: role, logger: logger)
            } catch {
                return (name, "it did not start: \(error)")
            }
            defer { connection.process.finish(graceMillis: 1_000) }
            guard connection.declaration.framing == .binary else { return (name, nil) }  // binary frames only
            do {
                try connection.channel.sendRaw(bytes)
                if bytes.count < 8 || bytes[4] == 2 { connection.process.closeInputOnce() }
            } catch {
                return (name, nil)  // it already went away
            }
            if connection.channel.waitReadable(timeoutMillis: 5_000) {
                if case .control(let value)? = try? connection.channel.receive(), value["type"]?.stringValue == "error"
                {
                    return (name, nil)
                }
            }
            if connection.process.waitExit(timeoutMillis: 5_000) != nil { return (name, nil) }
            return (name, "it neither answered with an error nor exited within 5 s")
        }
    }
}
