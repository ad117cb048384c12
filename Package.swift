// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        // What host applications embed to report to `sluice serve` (design §11).
        .library(name: "SluiceClient", targets: ["SluiceClient"]),
        // The core without the server, for the benchmark suite in Benchmarks/Throughput.
        .library(name: "SluiceCore", targets: ["SluiceModel", "SluiceConfig", "SluicePipeline", "SluiceStore"]),
        // The commands' library, for the same suite's HTTP ingest load (`HTTPLoad`).
        .library(name: "SluiceCommands", targets: ["SluiceCLI"]),
        // A Hummingbird app wired to Sluice through the library: cache, queries, LLM calls.
        .executable(name: "sluice-example-app", targets: ["SluiceExampleApp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // Sendable value types, the NDJSON codec and the sketches. No package dependencies on
        // purpose: everything else builds on it.
        .target(name: "SluiceModel", dependencies: ["CSluiceCRC32C"]),
        // The processor's CRC-32C instruction, which Swift does not spell (one C function).
        .target(name: "CSluiceCRC32C"),
        // The typed, validated configuration and its YAML loader.
        .target(
            name: "SluiceConfig",
            dependencies: ["SluiceModel", .product(name: "Yams", package: "Yams")]
        ),
        // Bounded channels, the stages and the sinks.
        // The processor's prefetch hint, which Swift does not spell (one inline C function).
        .target(name: "CSluicePrefetch"),
        .target(
            name: "SluicePipeline",
            dependencies: [
                "SluiceModel", "SluiceConfig", "CSluicePrefetch",
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // Linux's sync_file_range, which Swift's Glibc module does not declare (one C function).
        .target(name: "CSluiceWriteback"),
        // libzstd, from the system (Debian: libzstd-dev). Only the store imports it.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Segment files, the segment writer, recovery, retention and queries.
        .target(
            name: "SluiceStore",
            dependencies: [
                "SluiceModel", "SluiceConfig", "SluicePipeline", "CZstd", "CSluiceWriteback",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["FORMAT.md"]
        ),
        // zlib, from the system (Debian: zlib1g-dev): gzip request bodies.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The ingest protocols other agents speak (design §10): OTLP, remote write, Influx line
        // protocol and StatsD, each decoded into records for the ingest edge. Pure and synchronous.
        .target(name: "SluiceProtocols", dependencies: ["SluiceModel", "SluicePipeline", "CZlib"]),
        // `sluice serve`: the HTTP API (Hummingbird), socket listeners (SwiftNIO), SSE, dashboard.
        .target(
            name: "SluiceServer",
            dependencies: [
                "SluiceModel", "SluiceConfig", "SluicePipeline", "SluiceStore", "SluiceProtocols", "SluiceNATS", "SluiceCluster",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The commands, as a library so that tests drive them in-process.
        .target(
            name: "SluiceCLI",
            dependencies: [
                "SluiceModel", "SluiceConfig", "SluicePipeline", "SluiceStore", "SluiceServer", "SluiceNATS", "SluiceCluster",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
        .executableTarget(name: "sluice", dependencies: ["SluiceCLI"]),
        // The client library: batching, back-pressure, retries with idempotency keys, graceful
        // flush; a swift-metrics backend; cache, query, token and per-request recorders. It
        // bootstraps nothing for its host.
        .target(
            name: "SluiceClient",
            dependencies: [
                "SluiceModel", "CZlib",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "SluiceExampleApp",
            dependencies: [
                "SluiceClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A NATS client on SwiftNIO, and the JetStream calls the cluster needs (design §12).
        .target(
            name: "SluiceNATS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The cluster on NATS JetStream (design §12): partitioning, leases, publishing accepted batches.
        .target(name: "SluiceCluster", dependencies: ["SluiceModel", "SluiceNATS"]),
        // Test kit: manual clock, fixture locator, golden files, recording sinks.
        .target(name: "SluiceTesting", dependencies: ["SluiceModel", "SluicePipeline", "SluiceNATS"]),

        .testTarget(name: "SluiceModelTests", dependencies: ["SluiceModel", "SluiceTesting"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "SluiceTesting"]),
        .testTarget(name: "SluicePipelineTests", dependencies: ["SluicePipeline", "SluiceTesting"]),
        .testTarget(name: "SluiceStoreTests", dependencies: ["SluiceStore", "CSluiceWriteback", "SluiceTesting"]),
        .testTarget(name: "SluiceProtocolsTests", dependencies: ["SluiceProtocols", "SluiceTesting"]),
        // Test kit for the server: a real `sluice serve` in-process on loopback.
        .target(
            name: "SluiceServerTesting",
            dependencies: ["SluiceServer", "SluiceStore", "SluiceConfig", "SluiceTesting", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "SluiceServerTests",
            dependencies: ["SluiceServer", "SluiceTesting", "SluiceServerTesting"]
        ),
        .testTarget(name: "SluiceNATSTests", dependencies: ["SluiceNATS", "SluiceModel", "SluiceTesting"]),
        .testTarget(name: "SluiceClusterTests", dependencies: ["SluiceCluster", "SluiceNATS", "SluiceModel", "SluiceTesting"]),
        .testTarget(name: "SluiceCLITests", dependencies: ["SluiceCLI", "SluiceModel", "SluicePipeline", "SluiceTesting"]),
        .testTarget(
            name: "SluiceClientTests",
            dependencies: [
                "SluiceClient", "SluiceServer", "SluiceStore", "SluiceTesting", "SluiceServerTesting",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
