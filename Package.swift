// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

/// SluiceCore computes CRC-32C with the SSE 4.2 `crc32` instruction on x86-64 (checked at run time,
/// with a software fallback); clang must be told it may emit it.
#if arch(x86_64)
    let coreSettings = strict + [.unsafeFlags(["-Xcc", "-msse4.2"])]
#else
    let coreSettings = strict
#endif

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceKit", targets: ["SluiceKit"]),
        // For connectors written in Swift as their own programs (connectors/README.md).
        .library(name: "SluiceConnector", targets: ["SluiceConnector"]),
        .library(name: "SluiceKitTesting", targets: ["SluiceKitTesting"]),
        .executable(name: "sluice-jsonl-sink", targets: ["sluice-jsonl-sink"]),
        // For the fuzz harnesses in Fuzz/, a separate package built with -sanitize=fuzzer.
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceLog", targets: ["SluiceLog"]),
        .library(name: "SluiceCSV", targets: ["SluiceCSV"]),
        .library(name: "SluiceRuntime", targets: ["SluiceRuntime"]),
        .library(name: "SluiceKafkaWire", targets: ["SluiceKafkaWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The daemon: counters per batch through swift-metrics, exposed in Prometheus's text format by
        // swift-prometheus, and the admin HTTP API on Hummingbird (SwiftNIO, service lifecycle).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The Kafka protocol listener (SluiceKafkaWire): SwiftNIO directly, which Hummingbird runs on too.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.65.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
    ],
    targets: [
        // C libraries, at the edge.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The codecs of Kafka's compressed record batches besides gzip (SluiceCore's Compression).
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // The Kafka backend's client (SluiceKafkaClient).
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // glibc's posix_spawn chdir action, for external connectors (SluiceExec).
        .target(name: "CSpawn"),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),

        // Modules.
        .target(
            name: "SluiceCore",
            dependencies: ["CZlib", "CSnappy", "CLZ4", "CZstd"],
            swiftSettings: coreSettings
        ),
        .target(
            name: "SluiceLog",
            dependencies: ["SluiceCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceBroker",
            dependencies: ["SluiceLog", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceKafkaClient",
            dependencies: [
                "CRdKafka", "SluiceBroker", "SluiceCore", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceKit",
            dependencies: ["SluiceCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceCSV",
            dependencies: ["SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            path: "connectors/csv/Sources",
            swiftSettings: strict
        ),
        .target(
            name: "SluiceFile",
            dependencies: ["SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            path: "connectors/file/Sources",
            swiftSettings: strict
        ),
        .target(
            name: "SluicePostgres",
            dependencies: ["CLibPQ", "SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            path: "connectors/postgres/Sources",
            swiftSettings: strict
        ),
        .target(
            name: "SluiceExec",
            dependencies: ["CSpawn", "SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            path: "connectors/exec/Sources",
            swiftSettings: strict
        ),
        .target(
            name: "SluiceKitTesting",
            dependencies: ["SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceConnector",
            dependencies: ["SluiceKit", "SluiceCore", .product(name: "Logging", package: "swift-log")],
            path: "connectors/sdk/swift",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluice-jsonl-sink",
            dependencies: ["SluiceConnector", "SluiceKit", "SluiceCore"],
            path: "connectors/examples/swift-jsonl-sink",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluice-bench-connector",
            dependencies: ["SluiceConnector", "SluiceKit", "SluiceCore"],
            path: "Benchmarks/connectors/swift",
            swiftSettings: strict
        ),
        .target(
            name: "SluiceRuntime",
            dependencies: [
                "SluiceBroker", "SluiceKafkaClient", "SluiceLog", "SluiceKit", "SluiceCore", "SluiceCSV", "SluiceFile",
                "SluicePostgres", "SluiceExec",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceKafkaWire",
            dependencies: [
                "SluiceBroker", "SluiceLog", "SluiceCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "SluiceDaemon",
            dependencies: [
                "SluiceKafkaWire", "SluiceRuntime", "SluiceKit", "SluiceLog", "SluiceCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceDaemon", "SluiceRuntime", "SluiceBroker", "SluiceKafkaClient", "SluiceLog", "SluiceKit",
                "SluiceCore", "SluicePostgres", "SluiceExec", "SluiceKitTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: ["BuildInfo"]
        ),
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // Tests.
        .target(
            name: "SluiceTestSupport",
            dependencies: ["SluiceCore"],
            path: "Tests/SluiceTestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"], swiftSettings: strict),
        .testTarget(
            name: "SluiceLogTests",
            dependencies: [
                "SluiceLog", "SluiceCore", "SluiceTestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceBrokerTests",
            dependencies: ["SluiceBroker", "SluiceLog", "SluiceCore", "SluiceTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceCSVTests",
            dependencies: [
                "SluiceCSV", "SluiceKit", "SluiceKitTesting", "SluiceCore", "SluiceRuntime", "SluiceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "connectors/csv/Tests",
            resources: [.copy("Corpus")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceFileTests",
            dependencies: [
                "SluiceFile", "SluiceKit", "SluiceKitTesting", "SluiceCore", "SluiceRuntime", "SluiceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "connectors/file/Tests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluicePostgresTests",
            dependencies: [
                "SluicePostgres", "SluiceKit", "SluiceCore", "SluiceRuntime", "SluiceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "connectors/postgres/Tests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceKitTests",
            dependencies: ["SluiceKit", "SluiceCore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SluiceRuntimeTests",
            dependencies: [
                "SluiceRuntime", "SluiceBroker", "SluiceKafkaClient", "SluiceKit", "SluiceCore", "SluiceTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "sluice", "sluice-jsonl-sink", "SluiceCore", "SluiceLog", "SluiceBroker", "SluiceKit", "SluiceRuntime",
                "SluiceTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Snapshots", "KafkaClients"],
            swiftSettings: strict
        ),
    ]
)
