import SluiceKit

/// The option tables of `sluice connectors describe` and the connectors' READMEs.
public enum ConnectorHelp {
    /// The options every connector of the spec's kind takes, from the runtime.
    public static func commonOptions(_ spec: ConnectorSpec) -> [OptionSpec] {
        spec.kind == .source ? CommonOptions.source : CommonOptions.sink
    }

    /// A plain-text table of a connector's options, common ones first.
    public static func optionsTable(_ spec: ConnectorSpec) -> String {
        let options = commonOptions(spec).map { $0.withDefault(spec.commonDefaults[$0.name]) } + spec.options
        let nameWidth = options.map(\.name.count).max() ?? 0
        let typeWidth = options.map(\.type.name.count).max() ?? 0
        let defaultWidth = options.map(\.defaultText.count).max() ?? 0
        func pad(_ text: String, _ width: Int) -> String {
            text + String(repeating: " ", count: max(0, width - text.count))
        }
        var lines = [
            pad("OPTION", nameWidth) + "  " + pad("TYPE", typeWidth) + "  " + pad("DEFAULT", defaultWidth) + "  MEANING"
        ]
        for option in options {
            let meaning = option.meaning + (option.example.map { " Example: \($0)" } ?? "")
            lines.append(
                pad(option.name, nameWidth) + "  " + pad(option.type.name, typeWidth) + "  "
                    + pad(option.defaultText, defaultWidth)
                    + "  " + meaning)
        }
        return lines.joined(separator: "\n")
    }

    /// The Markdown table of a connector's options, as its README carries it.
    public static func markdownTable(_ spec: ConnectorSpec) -> String {
        spec.markdownTable(common: commonOptions(spec))
    }
}
