import ArgumentParser
import SluiceCore

/// "Did you mean …?" for command lines the parser refuses: a misspelled subcommand (`sluice topics
/// lst`), an option the parser knows nothing close to, and the Kafka tools' action options
/// (`sluice topics --describe`), which are subcommands here.
enum ParseErrorHint {
    /// `message` (the parser's error and usage) with a hint on its first line when one fits. The
    /// parser checks a command's values before it reports an unknown option, so a misspelled option
    /// can show as a missing one (`--topc orders`: "give --topic"); the unknown option is the cause,
    /// and is named instead.
    static func adding(to message: String, arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String {
        var lines = message.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard var first = lines.first, !first.contains("Did you mean") else { return message }
        if !first.contains("Unknown option"), let option = unknownOption(in: arguments, of: failedCommand(message)) {
            first = "Error: Unknown option '\(option)'"
        }
        lines[0] = first + (hint(for: first, in: message, arguments: arguments).map { ". " + $0 } ?? "")
        return lines.joined(separator: "\n")
    }

    /// The first `--name` in `arguments` that `command` (a command without subcommands) does not take.
    static func unknownOption(in arguments: [String], of command: any ParsableCommand.Type) -> String? {
        guard command.configuration.subcommands.isEmpty else { return nil }
        let known = Set(longOptions(of: command))
        for argument in arguments.prefix(while: { $0 != "--" }) where argument.hasPrefix("--") {
            let name = String(argument.prefix { $0 != "=" })
            if name.count > 2 && !known.contains(name) { return name }
        }
        return nil
    }

    static func hint(for error: String, in message: String, arguments: [String]) -> String? {
        let command = failedCommand(message)
        let subcommands = command.configuration.subcommands.map(name)
        // The command line with `word` in place of the first `wrong`, to copy.
        func corrected(_ wrong: String, _ word: String) -> String {
            var words = arguments
            if let index = words.firstIndex(of: wrong) { words[index] = word }
            return ShellWords.join(["sluice"] + words)
        }
        // "Unexpected argument 'lst'", or "2 unexpected arguments: 'describ', 'g'": the first is the one.
        if let word = quoted(after: "Unexpected argument '", in: error)
            ?? quoted(after: "unexpected arguments: '", in: error)
        {
            guard let match = Suggestion.closest(to: word, in: subcommands) else { return nil }
            return "Did you mean '\(match)'? (\(corrected(word, match)))"
        }
        if let option = quoted(after: "Unknown option '", in: error), option.hasPrefix("--") {
            let word = String(option.dropFirst(2))
            if subcommands.contains(word) {
                return "Did you mean the subcommand '\(word)'? (\(corrected(option, word)))"
            }
            return Suggestion.closest(to: option, in: longOptions(of: command)).map { "Did you mean '\($0)'?" }
        }
        return nil
    }

    /// The text between `prefix` and the next quote.
    static func quoted(after prefix: String, in text: String) -> String? {
        guard let start = text.firstRange(of: prefix)?.upperBound, let end = text[start...].firstIndex(of: "'") else {
            return nil
        }
        return String(text[start..<end])
    }

    /// `sluice topics` from "Usage: sluice topics <subcommand>": the words up to the first placeholder.
    static func commandPath(_ message: String) -> String {
        guard let usage = message.split(separator: "\n").first(where: { $0.hasPrefix("Usage: ") }) else {
            return "sluice"
        }
        let words = usage.dropFirst("Usage: ".count).split(separator: " ")
            .prefix { !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("-") }
        return words.isEmpty ? "sluice" : words.joined(separator: " ")
    }

    /// The command whose usage the message shows.
    static func failedCommand(_ message: String) -> any ParsableCommand.Type {
        var command: any ParsableCommand.Type = Sluice.self
        for word in commandPath(message).split(separator: " ").dropFirst() {
            guard let next = command.configuration.subcommands.first(where: { name($0) == word }) else { break }
            command = next
        }
        return command
    }

    /// A command's name as the parser derives it: its configured name, else its type's name in kebab case.
    static func name(_ command: any ParsableCommand.Type) -> String {
        if let name = command.configuration.commandName { return name }
        var result = ""
        var previousLower = false
        for character in String(describing: command) {
            if character.isUppercase && previousLower { result += "-" }
            result += character.lowercased()
            previousLower = character.isLowercase || character.isNumber
        }
        return result
    }

    /// The long options that a command's help lists.
    static func longOptions(of command: any ParsableCommand.Type) -> [String] {
        let help = Sluice.helpMessage(for: command, includeHidden: true, columns: 10_000)
        guard let start = help.firstRange(of: "\nOPTIONS:\n")?.upperBound else { return [] }
        var options: [String] = []
        for line in help[start...].split(separator: "\n") {
            // "  -h, --help   Show help information.", "  --progress/--no-progress  …": the names before
            // the first word that is not one.
            let words = line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "/" })
            for word in words.prefix(while: { $0.hasPrefix("-") }) where word.hasPrefix("--") {
                options.append(String(word))
            }
        }
        return options
    }
}
