// swift-tools-version: 6.1
// libFuzzer targets for Sluice's decoders. A package of its own, so that the main package's
// `swift build` and `swift test` never see the sanitizer flags. It compiles the library
// sources it needs from the main package (`Sources/<Module>` here are links to `../Sources`),
// with `-enable-testing` so each target can `@testable import` a decoder's internal entry point
// without making it public. Build and run through `scripts/fuzz` (README, "Fuzzing").
import PackageDescription

let testable: [SwiftSetting] = [.unsafeFlags(["-enable-testing"])]

/// One libFuzzer target: `Targets/<name>/` defines `LLVMFuzzerTestOneInput`. Compiled as a
/// library, so that the program's `main` is libFuzzer's driver rather than an empty script.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name, dependencies: dependencies + ["FuzzCheck"], path: "Targets/\(name)",
        swiftSettings: [.unsafeFlags(["-parse-as-library"])]
    )
}

let package = Package(
    name: "sluice-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The main package's modules, as it declares them (../Package.swift).
        .target(name: "CSluiceCRC32C"),
        .target(name: "SluiceModel", dependencies: ["CSluiceCRC32C"], swiftSettings: testable),
        .target(name: "SluiceConfig", dependencies: ["SluiceModel", .product(name: "Yams", package: "Yams")], swiftSettings: testable),
        .target(name: "CSluicePrefetch"),
        .target(
            name: "SluicePipeline",
            dependencies: ["SluiceModel", "SluiceConfig", "CSluicePrefetch", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: testable
        ),
        .target(name: "CSluiceWriteback"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "SluiceStore",
            dependencies: [
                "SluiceModel", "SluiceConfig", "SluicePipeline", "CZstd", "CSluiceWriteback",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["FORMAT.md"],
            swiftSettings: testable
        ),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "SluiceProtocols", dependencies: ["SluiceModel", "SluicePipeline", "CZlib"], swiftSettings: testable),

        // What every target shares: the trap that makes libFuzzer keep an input, and the JSON oracle.
        .target(name: "FuzzCheck", dependencies: ["SluiceModel", "SluicePipeline"], path: "Targets/FuzzCheck"),

        fuzzTarget("fuzz-ndjson", ["SluiceModel", "SluicePipeline"]),
        fuzzTarget("fuzz-json-array", ["SluiceModel", "SluicePipeline"]),
        fuzzTarget("fuzz-segment", ["SluiceModel", "SluiceStore"]),
        fuzzTarget("fuzz-block", ["SluiceModel", "SluiceStore"]),
        fuzzTarget("fuzz-config", ["SluiceConfig"]),
        fuzzTarget("fuzz-otlp-metrics", ["SluiceModel", "SluicePipeline", "SluiceProtocols"]),
        fuzzTarget("fuzz-otlp-traces", ["SluiceModel", "SluicePipeline", "SluiceProtocols"]),
        fuzzTarget("fuzz-remote-write", ["SluiceModel", "SluicePipeline", "SluiceProtocols"]),
        fuzzTarget("fuzz-influx", ["SluiceModel", "SluicePipeline", "SluiceProtocols"]),
        fuzzTarget("fuzz-statsd", ["SluiceModel", "SluicePipeline", "SluiceProtocols"]),
    ],
    swiftLanguageModes: [.v6]
)
