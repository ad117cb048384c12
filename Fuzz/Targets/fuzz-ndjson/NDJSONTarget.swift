import FuzzCheck
import Foundation
import SluiceModel
import SluicePipeline

/// The NDJSON decoder and the ingest edge's line handling (stdin, files, TCP, HTTP bodies).
///
/// Properties, besides not crashing:
/// - every line the decoder accepts is one valid JSON object (`StrictJSON`), and Foundation's
///   `JSONSerialization` reads the same `metric_name`, `tenant_id` and labels from it;
/// - an accepted record written back as a line (`Record.write(to:)`) is valid JSON and decodes
///   to an equal record;
/// - a stream cut in two anywhere, or into equal chunks, decodes to the same records and refusals as the whole
///   message.
///
/// Tolerated: `JSONSerialization` refuses numbers too large for a `Double` (`1e999`) that the
/// grammar allows, so a line it cannot read is compared with `StrictJSON` alone; it drops a
/// U+FEFF that opens a string value (`"\u{FEFF}cpu"` reads as `"cpu"`), which JSON keeps, so
/// strings, label keys and values included, are compared without one, and a line with a member
/// key that opens with one (Foundation's `tenant_id` may then be the line's
/// `"\u{FEFF}tenant_id"`, a key the decoder rightly ignores) with `StrictJSON` alone; and labels are matched
/// by `String`'s `==` (Unicode canonical equivalence), the rule `Labels` keys follow.
@main
enum NDJSONFuzz {
    static func main() { runFuzzer(fuzzNDJSON) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNDJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (choice, input) = selector(data, size)
    var configuration = NDJSONDecoder.Configuration()
    configuration.maximumLineBytes = 4096
    configuration.maximumLabels = 8
    let now = Timestamp(microseconds: 1_764_000_000_000_000)
    let decoder = NDJSONDecoder(configuration: configuration)

    var start = 0
    for end in input.indices where input[end] == 0x0A {
        checkLine(UnsafeBufferPointer(rebasing: input[start..<end]), decoder, now: now)
        start = end + 1
    }
    checkLine(UnsafeBufferPointer(rebasing: input[start...]), decoder, now: now)

    checkChunking(input, cut: Int(choice), configuration, now: now)
    return 0
}

private func checkLine(_ line: UnsafeBufferPointer<UInt8>, _ decoder: NDJSONDecoder, now: Timestamp) {
    guard case .success(let record) = decoder.decode(line, ingestTime: now) else { return }
    guard let (shape, _) = StrictJSON.validate(line), case .object = shape else {
        violated("the decoder accepted a line that is not a JSON object", line)
    }
    if !hasMarkedKey(line), let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] {
        compare(record, object, line)
    }

    var writer = JSONWriter()
    record.write(to: &writer)
    let written = writer.bytes
    written.withUnsafeBufferPointer { out in
        guard StrictJSON.validate(out) != nil else { violated("a record written back is not valid JSON: \(String(decoding: out, as: UTF8.self))", line) }
        switch decoder.decode(out, ingestTime: nil) {
        case .success(let again):
            guard again == record else {
                violated("a record written back decodes to another record: \(record) became \(again)", line)
            }
        case .failure(let error):
            violated("a record written back does not decode: \(error) in \(String(decoding: out, as: UTF8.self))", line)
        }
    }
}

/// What Foundation reads from the same line must be what the decoder read.
private func compare(_ record: Record, _ object: [String: Any], _ line: UnsafeBufferPointer<UInt8>) {
    if let tenant = object["tenant_id"] as? String, tenant != record.tenantID.map(withoutMark) {
        violated("tenant_id is \(tenant.debugDescription) to Foundation, \(String(describing: record.tenantID)) to the decoder", line)
    }
    guard case .metric(let metric) = record else { return }
    if let name = object["metric_name"] as? String, Array(name.utf8) != Array(withoutMark(metric.name).utf8) {
        violated("metric_name is \(name.debugDescription) to Foundation, \(metric.name.debugDescription) to the decoder", line)
    }
    if let labels = object["labels"] as? [String: String] {
        for label in metric.labels {
            guard labels.contains(where: { $0.key == withoutMark(label.key) && $0.value == withoutMark(label.value) }) else {
                violated("label \(label.key.debugDescription)=\(label.value.debugDescription) is not in Foundation's \(labels)", line)
            }
        }
        guard metric.labels.count <= labels.count else { violated("more labels than the line has", line) }
    }
}

/// Streamed in two chunks cut at `cut` (and, for longer inputs, in chunks of `cut` bytes), the
/// input must decode as it does whole.
private func checkChunking(_ input: UnsafeBufferPointer<UInt8>, cut: Int, _ configuration: NDJSONDecoder.Configuration, now: Timestamp) {
    guard case .success(let whole) = IngestDecoder.decode(message: input, arrays: false, decoder: configuration, now: now, source: nil) else {
        violated("NDJSON decoding of a message failed as a whole", input)
    }
    let cut = min(cut, input.count)
    let splits: [(String, [Int])] = [
        ("two chunks cut at \(cut)", [0, cut, input.count]),
        // Chunks of at least 8 bytes: a byte at a time costs the run most of its speed and finds
        // nothing the cut at every position does not.
        ("chunks of \(max(8, cut)) bytes", Array(stride(from: 0, to: input.count, by: max(8, cut))) + [input.count]),
    ]
    for (how, bounds) in splits {
        var edge = IngestDecoder(decoder: configuration)
        for (from, to) in zip(bounds, bounds.dropFirst()) {
            edge.feed(UnsafeBufferPointer(rebasing: input[from..<to]), now: now, source: nil)
        }
        edge.finish(now: now, source: nil)
        let streamed = edge.take()
        guard streamed.records == whole.records, streamed.rejections == whole.rejections else {
            violated("in \(how), the input decodes to \(streamed.records.count) records and \(streamed.rejections.map(\.description)); whole, to \(whole.records.count) and \(whole.rejections.map(\.description))", input)
        }
    }
}

/// Whether a member's key opens with U+FEFF, raw or as `\ufeff`. Foundation drops the mark,
/// so it reads `"\u{FEFF}tenant_id"` as `tenant_id`, another key than the one the line has:
/// such a line is checked against `StrictJSON` alone.
private func hasMarkedKey(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
    let escaped = Array("\\ufeff".utf8)
    var i = 0
    while i < line.count {
        guard line[i] == UInt8(ascii: "\"") else { i += 1; continue }
        // A string opens here: note whether it opens with the mark, then find its end.
        let rest = UnsafeBufferPointer(rebasing: line[(i + 1)...])
        let marked = rest.starts(with: [0xEF, 0xBB, 0xBF])
            || (rest.count >= escaped.count && zip(rest.prefix(escaped.count), escaped).allSatisfy { $0 | 0x20 == $1 | 0x20 })
        var j = i + 1
        while j < line.count, line[j] != UInt8(ascii: "\"") { j += line[j] == UInt8(ascii: "\\") ? 2 : 1 }
        var k = j + 1
        while k < line.count, line[k] == 0x20 || line[k] == 0x09 || line[k] == 0x0D || line[k] == 0x0A { k += 1 }
        if marked, k < line.count, line[k] == UInt8(ascii: ":") { return true }
        i = j + 1
    }
    return false
}

/// The text without a U+FEFF at its start, as Foundation reads it.
private func withoutMark(_ text: String) -> String {
    text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
}
