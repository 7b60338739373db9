import ArgumentParser
import SluiceCore
import SluiceRuntime

/// `sluice connectors new`: writes a connector project that works as generated.
struct ConnectorNew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a new connector project, in Python or Swift, that passes `sluice connectors test`.",
        discussion: """
            The project holds a working connector (a source that reads the lines of a file, or a sink that \
            appends records to one), sample options and input for `sluice connectors test`, and a README \
            that says what to change. A Python project carries its own copy of the SDK; a Swift project \
            depends on the Sluice package it was built from (--sluice-package to name another).

            Examples:
              sluice connectors new lines --language python --role source
              sluice connectors new audit-sink --language swift --role sink
            """
    )

    enum Language: String, ExpressibleByArgument, CaseIterable {
        case python
        case swift
    }

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case source
        case sink
    }

    @Argument(help: "The connector's name: lowercase letters, digits, - and _, starting with a letter.")
    var name: String

    @Option(help: "python or swift.")
    var language: Language

    @Option(help: "source or sink.")
    var role: Role

    @Option(help: ArgumentHelp("Where to write the project (default: a folder named after it).", valueName: "folder"))
    var output: String?

    @Option(help: ArgumentHelp("For Swift: the Sluice package to depend on.", valueName: "folder"))
    var sluicePackage: String = BuildInfo.packagePath

    func run() throws {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first),
            name.unicodeScalars.allSatisfy({
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            })
        else {
            throw CommandFailure.usage(
                "\"\(name)\" is not a connector name: use lowercase letters, digits, - and _, starting with a letter")
        }
        if BuiltInConnectors.registry.spec(type: name) != nil {
            throw CommandFailure.usage("\"\(name)\" is a built-in connector type; choose another name")
        }
        let folder = FileSystem.normalized(output ?? name)
        if FileSystem.exists(folder) && !FileSystem.isDirectory(folder) {
            throw CommandFailure.usage("\(folder) is a file; choose another --output")
        }
        if FileSystem.exists(folder), !((try? FileSystem.contentsOfDirectory(folder))?.isEmpty ?? false) {
            throw CommandFailure.usage("\(folder) exists and is not empty; choose another --output")
        }
        let files = language == .python ? pythonProject() : swiftProject()
        do {
            for (path, text) in files {
                let full = folder + "/" + path
                try FileSystem.createDirectory(FileSystem.parentDirectory(of: full))
                try FileSystem.writeAtomically(full, Array(text.utf8), sync: false)
            }
        } catch {
            throw CommandFailure.runtime("cannot write the project in \(folder): \(error)")
        }
        print("Wrote \(files.count) files in \(folder)/:")
        for (path, _) in files { print("  \(path)") }
        print("\nNext: cd \(folder) and read README.md; then")
        if language == .swift { print("  swift build") }
        print("  \(testCommand)")
    }

    /// The Swift type name for the connector: `audit-sink` → `AuditSink`.
    var typeName: String {
        name.split(whereSeparator: { $0 == "-" || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }
            .joined()
            + (role == .source ? "Source" : "Sink")
    }

    var command: String { language == .python ? "python3 connector.py" : ".build/debug/\(name)" }

    var testCommand: String { "sluice connectors test exec --command \"\(command)\" --config test-options.json" }

    var sample: String { (1...20_000).map { "line \($0)\n" }.joined() }

    var readme: String {
        let what =
            role == .source
            ? "a source that reads the lines of a file (`path`), each line a record, with the byte offset after it as its position"
            : "a sink that appends each record's value as a line to a file (`path`), made durable at each flush"
        let change =
            role == .source
            ? """
            - `\(language == .python ? "records" : "nextBatch")`: read your input instead of the file's lines.
            - `\(language == .python ? "position" : "checkpoint")`: where the records given so far end, exactly: from the same position
              the connector must give the same records in the same order.
            - `options`: declare every option with its type, default and meaning.
            """
            : """
            - `\(language == .python ? "write" : "write(_:)")`: write to your destination; raise a record error for a
              record that cannot be delivered, a transient error for a batch that cannot be written now.
            - `flush`: make everything written durable (commit, fsync) before returning.
            - `abort`: drop what was written since the last flush.
            - `options`: declare every option with its type, default and meaning.
            """
        return """
            # \(name)

            A Sluice \(role.rawValue) connector in \(language == .python ? "Python" : "Swift"), as `sluice connectors new` wrote it: \(what).
            It passes Sluice's conformance suite as it is:

                \(language == .swift ? "swift build\n    " : "")\(testCommand)

            ## What to change

            \(change)

            Run the suite again after each change; it kills the connector at random moments and checks that
            nothing is lost or repeated. The protocol and the delivery contract: `connectors/PROTOCOL.md` and
            `connectors/README.md` in Sluice's repository.

            ## Using it

            ```json
            "\(role == .source ? "sources" : "sinks")": {"\(name)": {"type": "exec", "command": [\(language == .python ? "\"python3\", \"\(name)/connector.py\"" : "\"\(name)/.build/debug/\(name)\"")],
                                \(role == .source ? "" : "\"topics\": [\"some-topic\"], ")"path": "\(role == .source ? "input.txt" : "out.txt")"}}
            ```

            """
    }

    func pythonProject() -> [(String, String)] {
        let body: String
        if role == .source {
            body = """
                class \(typeName)(sluice.Source):
                    name = "\(name)"
                    summary = "Reads the lines of a file (change me)"
                    options = [sluice.Option("path", "string", required=True, meaning="The file to read.", example="input.txt")]

                    def open(self, options, position):
                        self.file = open(options["path"], "rb")
                        self.offset = int(position or 0)
                        self.file.seek(self.offset)

                    def records(self):
                        for line in self.file:
                            if not line.endswith(b"\\n"):
                                break  # still being written: read it whole next time
                            self.offset += len(line)
                            yield None, line.rstrip(b"\\n")

                    def position(self):
                        return str(self.offset)

                    def close(self):
                        self.file.close()
                """
        } else {
            body = """
                class \(typeName)(sluice.Sink):
                    name = "\(name)"
                    summary = "Appends each record's value as a line to a file (change me)"
                    options = [sluice.Option("path", "string", required=True, meaning="The file records are appended to.",
                                             example="out.txt")]

                    def open(self, options, context):
                        self.path = options["path"]
                        self.pending = []

                    def write(self, record):
                        if record.value is None:
                            raise sluice.RecordError("a record without a value")
                        self.pending.append(record.value + b"\\n")

                    def flush(self):
                        with open(self.path, "ab") as f:
                            f.write(b"".join(self.pending))
                            f.flush()
                            os.fsync(f.fileno())
                        self.pending = []

                    def abort(self):
                        self.pending = []

                    def read_back(self):
                        \"\"\"For `sluice connectors test`: the ids of the records in the file (the suite's records are
                        JSON objects with an id). Return None if your destination cannot tell.\"\"\"
                        ids = []
                        if os.path.exists(self.path):
                            with open(self.path, "rb") as f:
                                for line in f:
                                    try:
                                        ids.append(json.loads(line)["id"])
                                    except (ValueError, KeyError, TypeError):
                                        pass
                        return ids
                """
        }
        let connector = """
            #!/usr/bin/env python3
            \"\"\"\(name): a Sluice \(role.rawValue) connector. See README.md for what to change.\"\"\"
            import json
            import os
            import sys

            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import sluice_connector as sluice  # noqa: E402


            \(body)

            if __name__ == "__main__":
                sluice.run(\(typeName)())

            """
        let sdk = String(decoding: Base64.decode(BuildInfo.pythonSDK) ?? [], as: UTF8.self)
        var files = [
            ("connector.py", connector), ("sluice_connector.py", sdk), ("README.md", readme),
            (
                "test-options.json",
                role == .source ? "{\"path\": \"sample.txt\"}\n" : "{\"path\": \"test-output.txt\"}\n"
            ),
        ]
        if role == .source { files.append(("sample.txt", sample)) }
        return files
    }

    func swiftProject() -> [(String, String)] {
        let package = """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "\(name)",
                platforms: [.macOS(.v15)],
                dependencies: [.package(name: "sluice", path: "\(sluicePackage)")],
                targets: [
                    .executableTarget(
                        name: "\(name)",
                        dependencies: [
                            .product(name: "SluiceConnector", package: "sluice"),
                            .product(name: "SluiceKit", package: "sluice"),
                            .product(name: "SluiceCore", package: "sluice"),
                        ],
                        swiftSettings: [.swiftLanguageMode(.v6)]
                    )
                ]
            )

            """
        let body: String
        if role == .source {
            body = """
                /// Reads the lines of a file, each a record; the position is the byte offset after the last line given.
                final class \(typeName): Source {
                    static let spec = ConnectorSpec(
                        type: "\(name)", kind: .source, summary: "Reads the lines of a file (change me)",
                        options: [OptionSpec("path", .string, required: true, "The file to read.", example: "input.txt")])

                    let bytes: [UInt8]
                    var offset: Int
                    var counts = SourceProgress()

                    init(context: SourceContext) throws {
                        let path = context.options.string("path") ?? ""
                        do {
                            bytes = try FileSystem.readFile(path)
                        } catch {
                            throw ConnectorError.fatal("path", "cannot read \\(path): \\(error)")
                        }
                        offset = context.checkpoint.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
                    }

                    func nextBatch(_ batch: inout SourceBatch) throws -> Bool {
                        var lines = 0
                        while lines < 5_000, let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\\n")) {
                            batch.records.beginRecord(timestamp: -1)
                            batch.records.setValue(batch.records.appendBytes(bytes[offset..<end]))
                            offset = end + 1
                            lines += 1
                        }
                        counts.rowsRead += lines
                        return lines == 5_000
                    }

                    func checkpoint() -> [UInt8] { Array(String(offset).utf8) }
                    var progress: SourceProgress { counts }
                    func close() {}
                }

                ExternalConnector.run(source: \(typeName).spec) { context in try \(typeName)(context: context) }
                """
        } else {
            body = """
                /// Appends each record's value as a line to a file, made durable at each flush.
                final class \(typeName): InspectableSink {
                    static let spec = ConnectorSpec(
                        type: "\(name)", kind: .sink, summary: "Appends each record's value as a line to a file (change me)",
                        options: [OptionSpec("path", .string, required: true, "The file records are appended to.", example: "out.txt")])

                    let file: SystemFile
                    var pending: [UInt8] = []

                    init(context: SinkContext) throws {
                        let path = context.options.string("path") ?? ""
                        do {
                            file = try SystemFile.open(path, .readWriteCreate)
                            try file.seek(to: try file.size())
                        } catch {
                            throw ConnectorError.fatal("path", "cannot open \\(path): \\(error)")
                        }
                    }

                    func open(partitions: [TopicPartition: Int64]) throws {}
                    func close(partitions: Set<TopicPartition>) throws {}

                    func write(_ batch: SinkBatch) throws -> [RecordFailure] {
                        var failures: [RecordFailure] = []
                        for chunk in batch.partitions {
                            for i in 0..<chunk.records.count {
                                guard let value = chunk.records.value(i) else {
                                    failures.append(
                                        RecordFailure(
                                            topicPartition: chunk.topicPartition, offset: chunk.records.entries[i].offset,
                                            error: .record("no_value", "a record without a value")))
                                    continue
                                }
                                pending.append(contentsOf: value)
                                pending.append(UInt8(ascii: "\\n"))
                            }
                        }
                        return failures
                    }

                    func flush() throws {
                        do {
                            try file.append(pending)
                            try file.syncData()
                        } catch {
                            throw ConnectorError.transient("write", "\\(error)")
                        }
                        pending.removeAll()
                    }

                    func abort() { pending.removeAll() }
                    func stop() {}

                    /// For `sluice connectors test`: the ids of the records in the file (the suite's records are
                    /// JSON objects with an id). Return nil if your destination cannot tell.
                    func heldRecordIDs() throws -> Set<Int64>? {
                        let text = String(decoding: try FileSystem.readFile(file.path), as: UTF8.self)
                        return Set(text.split(separator: "\\n").compactMap { try? JSONValue.parse(String($0))["id"]?.integerValue })
                    }
                }

                ExternalConnector.run(sink: \(typeName).spec) { context in try \(typeName)(context: context) }
                """
        }
        let main = """
            import SluiceConnector
            import SluiceCore
            import SluiceKit

            \(body)

            """
        var files = [
            ("Package.swift", package), ("Sources/\(name)/main.swift", main), ("README.md", readme),
            (
                "test-options.json",
                role == .source ? "{\"path\": \"sample.txt\"}\n" : "{\"path\": \"test-output.txt\"}\n"
            ),
            (".gitignore", ".build/\nPackage.resolved\n"),
        ]
        if role == .source { files.append(("sample.txt", sample)) }
        return files
    }
}
