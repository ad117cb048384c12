import ArgumentParser
import Foundation
import SluiceCluster
import SluiceConfig
import SluiceNATS

/// `sluice cluster`.
struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at a cluster of sluice serve nodes sharing work through NATS JetStream.",
        subcommands: [ClusterStatusCommand.self]
    )
}

/// `sluice cluster status`: read from NATS, so it works while any node (or none) is up.
struct ClusterStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List the nodes, and each partition's owner, lag and last checkpoint.",
        discussion: """
            Reads the lease buckets and the stream from the NATS server in cluster.nats (or \
            --nats): the live nodes and where their HTTP APIs listen; for every partition, the \
            node holding its lease, the stream sequence it has reached, the messages and seconds \
            it lags behind, and when its open windows were last checkpointed. A partition with \
            no owner (OWNER -) is waiting for a lease; its records wait in the stream.

            Exit status 69 when the NATS server cannot be reached or read.

            Example:
              sluice cluster status --config node1.yml
            """
    )

    @Option(help: ArgumentHelp("The configuration file with the cluster: section.", valueName: "FILE")) var config: String?
    @Option(help: ArgumentHelp("The NATS server (default: cluster.nats).", valueName: "URL")) var nats: String?
    @Flag(help: "Print the status as JSON.") var json = false

    func run() async throws {
        let configuration = try loadConfiguration(config)
        guard let url = nats ?? configuration.cluster.nats else {
            throw ValidationError("no NATS server: set cluster.nats in --config, or pass --nats nats://HOST:PORT")
        }
        let settings = configuration.cluster
        let client: NATSClient
        do {
            client = try await NATSClient.connect(.init(url: url, name: "sluice cluster status"))
        } catch {
            StandardError.write("sluice: cannot reach the NATS server at \(url): \(error)\n")
            throw ExitCode(69)
        }
        let status: ClusterStatus
        do {
            status = try await ClusterStatus.read(JetStream(client: client), stream: settings.stream, partitions: settings.partitions,
                                                  leaseTTL: .microseconds(settings.leaseTTL.microseconds))
        } catch {
            await client.close()
            StandardError.write("sluice: cannot read the cluster's status from \(url): \(error)\n")
            throw ExitCode(69)
        }
        await client.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        print("stream \(status.stream): last sequence \(status.lastSequence); \(status.nodes.count) live node\(status.nodes.count == 1 ? "" : "s")"
              + (status.isCaughtUp ? "; every partition is caught up" : ""))
        var nodes = [["NODE", "HTTP", "PARTITIONS"]]
        for node in status.nodes {
            // The partitions whose lease it holds (its pipelines for them may still be starting).
            let held = status.partitions.filter { $0.owner == node.node }.map { String($0.partition) }
            nodes.append([node.node, node.http ?? "-", held.isEmpty ? "-" : held.joined(separator: ",")])
        }
        print(table(nodes, leftColumns: 3))
        var rows = [["PARTITION", "OWNER", "POSITION", "LAG_MSGS", "LAG_SECONDS", "RECORDS", "LAST_CHECKPOINT"]]
        for p in status.partitions {
            rows.append(["\(p.partition)", p.owner ?? "-", "\(p.position)", "\(p.lagMessages)", String(format: "%.1f", p.lagSeconds), "\(p.records)",
                         p.checkpoint ?? "-"])
        }
        print(table(rows, leftColumns: 2))
    }

    private func table(_ lines: [[String]], leftColumns: Int) -> String {
        let widths = (0..<lines[0].count).map { c in lines.map { $0[c].count }.max() ?? 0 }
        return lines.map { line in
            line.enumerated().map { i, cell in i < leftColumns ? cell.padding(widths[i]) : cell.leftPadding(widths[i]) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
