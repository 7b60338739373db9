import SluiceCore
import SluiceKit

extension CSVSource {
    /// The CSV source's checks before a run (see `ConnectorSpec.preflight`): `path` matches files, each is
    /// a regular file, and the header row of each names every `key` column and every typed column. Reads
    /// only the header rows (`HeaderReader`); files with the same header are reported together.
    static func preflight(_ context: PreflightContext) -> PreflightResult {
        let options = context.options
        let settings = Settings(options)
        let pathOption = options.path(of: "path")
        var result = PreflightResult()
        let files: [String]
        do {
            files = try PathExpansion.files(settings.pattern)
        } catch {
            result.problem(pathOption, "\(error)")
            return result
        }
        guard !files.isEmpty else {
            if FileSystem.isDirectory(settings.pattern) {
                result.note("source \(context.name): folder \(settings.pattern) holds no files yet")
            } else if context.continuous {
                result.note(
                    "source \(context.name): \(Self.noMatch(settings.pattern)) yet; the daemon reads it once it does")
            } else if settings.afterRead != .keep && context.checkpoint != nil {
                // Its files were read and moved or deleted away: nothing new is no error.
                result.note("source \(context.name): \(Self.noMatch(settings.pattern)) (after_read took them away)")
            } else {
                result.problem(pathOption, Self.noMatch(settings.pattern))
            }
            return result
        }
        result.note(
            "source \(context.name): \(files.count) file\(files.count == 1 ? " matches" : "s match") \(settings.pattern)"
        )
        let checksHeader = settings.header && !(settings.key.isEmpty && settings.types.isEmpty)
        // A file read to its end and unchanged since is not read again: an older header there does not
        // matter to this run.
        let stored = context.checkpoint.flatMap { try? CSVCheckpoint(decoding: $0) }
        var headers: [(names: [String], files: [String])] = []
        // Files the daemon has read and goes on reading as they grow: their header must fit, as a file
        // read part-way cannot be set aside and read again from its start without repeating rows.
        var continuing: Set<String> = []
        for file in files {
            let kind = FileSystem.kind(file)
            guard kind == .regularFile else {
                result.problem(
                    pathOption, "\(file) is \(kind.phrase), not a regular file; the csv source reads files on disk")
                continue
            }
            guard checksHeader else { continue }
            if let known = stored?.files[file], known.failed == nil, context.continuous, !isFinished(file, settings) {
                continuing.insert(file)
            } else if let done = stored?.files[file], done.complete, let input = try? InputFile(path: file),
                input.identity == done.identity, input.isGzip || input.size == done.offset
            {
                continue
            }
            do {
                guard let names = try HeaderReader(settings: settings).read(file).names else { continue }
                if let index = headers.firstIndex(where: { $0.names == names }) {
                    headers[index].files.append(file)
                } else {
                    headers.append((names, [file]))
                }
            } catch {
                if context.continuous {
                    result.note(
                        "source \(context.name): cannot read \(file) (\(error)); the daemon sets it aside as failed")
                } else {
                    result.problem(pathOption, "cannot read \(file): \(error)")
                }
            }
        }
        let problems = headers.map { headerProblems($0.names, files: $0.files, settings: settings, options: options) }
        // In the daemon, files whose header does not fit while others' does are data, not a config
        // mistake: they are set aside as failed (the ledger says why) and the rest is read.
        let someFit =
            problems.contains(where: \.isEmpty)
            || stored?.files.values.contains { $0.complete && $0.failed == nil } == true
        for (found, group) in zip(problems, headers) {
            if !continuing.isDisjoint(with: group.files) {
                result.problems += found.map {
                    ConfigProblem(
                        $0.path,
                        $0.message + "; the source has read part of it and goes on reading it as it grows, so its "
                            + "header must fit")
                }
            } else if context.continuous && someFit {
                for problem in found {
                    result.note(
                        "source \(context.name): \(problem.message); the daemon sets those files aside as failed")
                }
            } else {
                result.problems += found
            }
        }
        return result
    }

    /// What is wrong with the `key` and `columns` options for files whose header gives `names`.
    static func headerProblems(
        _ names: [String], files: [String], settings: Settings, options: ConnectorOptions
    ) -> [ConfigProblem] {
        let others = files.count - 1
        let header =
            "the header of \(files[0])" + (others > 0 ? " (and of \(others) more file\(others == 1 ? "" : "s"))" : "")
            + " (\(names.joined(separator: ", ")))"
        func missing(_ column: String) -> String {
            let hint = Suggestion.closest(to: column, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
            return "column \"\(column)\" is not in \(header)\(hint)"
        }
        var problems: [ConfigProblem] = []
        for key in settings.key where !names.contains(key) {
            problems.append(ConfigProblem(options.path(of: "key"), missing(key)))
        }
        for (column, _) in options.stringMap("columns") ?? [] where !names.contains(column) {
            problems.append(ConfigProblem(options.path(of: "columns") + "." + column, missing(column)))
        }
        return problems
    }

    /// Why a pattern matches nothing, with the folder it looked in when that is missing too.
    static func noMatch(_ pattern: String) -> String {
        let folder = FileSystem.parentDirectory(of: pattern)
        let missingFolder =
            !folder.contains(where: { "*?[".contains($0) }) && !FileSystem.isDirectory(folder)
            ? " (the folder \(folder) does not exist)" : ""
        return "\"\(pattern)\" matches no file\(missingFolder)"
    }
}
