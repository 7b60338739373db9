import Foundation
import Glibc

/// The `sluice` executable built next to the test bundle, and ways to run it as a user would.
public enum SluiceBinary {
    /// The result of a finished run.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// `.build/<config>/sluice`, beside the test executable.
    public static var path: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable =
            count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var directory = (executable as NSString).deletingLastPathComponent
        while !directory.isEmpty && directory != "/"
            && !FileManager.default.isExecutableFile(atPath: directory + "/sluice")
        {
            directory = (directory as NSString).deletingLastPathComponent
        }
        return directory + "/sluice"
    }

    /// Starts `sluice` with `arguments` in `directory`; the caller waits for it or kills it.
    public static func start(
        _ arguments: [String],
        in directory: String,
        environment: [String: String] = [:],
        stdin: Data? = nil
    ) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        return (process, out, err)
    }

    /// Runs `sluice` to its end and returns its exit status and output.
    @discardableResult
    public static func run(
        _ arguments: [String],
        in directory: String,
        environment: [String: String] = [:],
        stdin: Data? = nil
    ) throws -> Result {
        let (process, out, err) = try start(arguments, in: directory, environment: environment, stdin: stdin)
        let collector = OutputCollector(out: out, err: err)
        process.waitUntilExit()
        let (stdout, stderr) = collector.finish()
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}

/// Reads a process's standard output and error on their own threads, so that a full pipe never blocks it.
public final class OutputCollector: @unchecked Sendable {
    private let group = DispatchGroup()
    private var stdout = Data()
    private var stderr = Data()

    public init(out: Pipe, err: Pipe) {
        group.enter()
        DispatchQueue.global().async {
            self.stdout = out.fileHandleForReading.readDataToEndOfFile()
            self.group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            self.stderr = err.fileHandleForReading.readDataToEndOfFile()
            self.group.leave()
        }
    }

    public func finish() -> (String, String) {
        group.wait()
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
