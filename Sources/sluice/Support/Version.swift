import SluiceCore
import SluicePostgres

/// `sluice --version`: the release, the commit and date of the build, and the C libraries it runs on.
enum Version {
    static let release = "0.1.0"

    static var text: String {
        "sluice \(release) (commit \(BuildInfo.commit), built \(BuildInfo.date))\n"
            + "zlib \(Zlib.version), libpq \(LibPQ.version)"
    }
}
