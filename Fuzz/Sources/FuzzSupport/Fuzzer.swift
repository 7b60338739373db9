import CFuzzer
import Glibc
import SluiceCore

/// The entry point of a harness: hands libFuzzer the function it calls with every input.
///
/// SwiftPM names the entry point of an executable target itself, so a harness cannot use libFuzzer's
/// `main`; it calls `LLVMFuzzerRunDriver` from its own. Before that, `--make-seeds DIR` writes the
/// harness's generated seed inputs into `DIR` and exits, without fuzzing.
public enum Fuzzer {
    /// `LLVMFuzzerTestOneInput`: called once per input, from one thread; returns 0.
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    public static func main(seeds: () throws -> [(name: String, bytes: [UInt8])], _ test: TestOneInput) -> Never {
        let arguments = CommandLine.arguments
        if arguments.count == 3 && arguments[1] == "--make-seeds" {
            do {
                try writeSeeds(seeds(), into: arguments[2])
                exit(0)
            } catch {
                printToStandardError("cannot write seeds: \(error)")
                exit(1)
            }
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, test))
    }

    private static func writeSeeds(_ seeds: [(name: String, bytes: [UInt8])], into directory: String) throws {
        mkdir(directory, 0o755)
        for seed in seeds {
            let path = directory + "/" + seed.name
            guard let file = fopen(path, "wb") else { throw FuzzFailure("cannot create \(path)") }
            defer { fclose(file) }
            let written = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            guard written == seed.bytes.count else { throw FuzzFailure("cannot write \(path)") }
        }
    }
}

/// A failure of the harness itself (not of the code under test).
public struct FuzzFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Stops the process with `message` when an invariant does not hold; libFuzzer reports the input as a
/// crash and saves it.
@inline(__always)
public func require(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #file,
    line: UInt = #line
) {
    if !condition() { fatalError("invariant broken: \(message())", file: file, line: line) }
}
