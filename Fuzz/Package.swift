// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "sluice-fuzz",
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(name: "CFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CFuzzer", .product(name: "SluiceCore", package: "sluice"),
                .product(name: "SluiceLog", package: "sluice"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzRecordBatch",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceLog", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzCSVParser",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceCSV", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzSegmentRecovery",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceLog", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzProtocolFrames",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceKit", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzKafkaRequests",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceKafkaWire", package: "sluice"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzConfigLoader",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceRuntime", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "FuzzCSVSource",
            dependencies: [
                "FuzzSupport",
                .product(name: "SluiceCSV", package: "sluice"),
                .product(name: "SluiceKit", package: "sluice"),
                .product(name: "SluiceCore", package: "sluice"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
