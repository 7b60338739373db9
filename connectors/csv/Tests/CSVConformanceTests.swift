import Logging
import SluiceCSV
import SluiceCore
import SluiceKit
import SluiceKitTesting
import SluiceRuntime
import SluiceTestSupport
import Testing

/// The CSV source through the conformance suite that external connectors run (`sluice connectors
/// test`): read to the end, resumed at stored positions, crashed 20 times.
struct CSVConformanceTests {
    @Test func theCSVSourceKeepsTheDeliveryContract() throws {
        let dir = TemporaryDirectory()
        var generator = SampleOrders(rows: 30000, seed: 8)
        generator.badEvery = 499
        try generator.write(to: dir.file("a.csv"))
        try SampleOrders(rows: 10000, seed: 9).write(to: dir.file("b.csv"))
        let options = try CSVTestSupport.options(
            path: dir.path, [("key", .array([.string("customer")])), ("max_batch_rows", .number("1500"))])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var suite = ConformanceSuite(logger: logger)
        suite.checkDeclaration(CSVSource.spec, given: [("path", .string(dir.path))])
        suite.checkSource(
            open: { checkpoint in try CSVSource(context: CSVTestSupport.context(options, checkpoint: checkpoint)) },
            crash: { _ in })
        for check in suite.checks {
            #expect(check.passed, "\(check.name): \(check.detail)")
        }
        #expect(suite.checks.count == 5)
    }
}
