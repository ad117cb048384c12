// swift-tools-version: 6.1
// The throughput benchmarks (ordo-one/benchmark): parse, aggregate, the whole run pipeline, the
// pipeline with the store, HTTP ingest and the anomaly model, each with wall time, throughput
// and malloc counts. A package of
// its own so that the main package's build and CI never see it. From this directory:
//
//     swift package --disable-sandbox benchmark                          # run
//     swift package --disable-sandbox benchmark baseline update main     # keep a baseline
//     swift package --disable-sandbox benchmark baseline compare main    # diff against it
import PackageDescription

let package = Package(
    name: "sluice-throughput",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Throughput",
            dependencies: [
                .product(name: "SluiceCore", package: "sluice"),
                .product(name: "SluiceCommands", package: "sluice"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Throughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
