// swift-tools-version: 6.1
// Token usage under load (Benchmarks/client/README.md): N concurrent reporters, each its own
// SluiceClient, send token usage with repeated request ids against a rate-limited `sluice serve`,
// and the server's totals are checked against the exact expected ones. A package of its own, so
// that the main package's build and CI never see it; run it through `Benchmarks/client/tokens`.
import PackageDescription

let package = Package(
    name: "sluice-client-load",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: "../.."),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "sluice-client-load",
            dependencies: [
                .product(name: "SluiceClient", package: "sluice"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/ClientLoad"
        ),
    ],
    swiftLanguageModes: [.v6]
)
