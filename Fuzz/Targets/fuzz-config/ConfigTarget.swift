import FuzzCheck
import SluiceConfig

/// The configuration loader: YAML text (Yams) into the typed, validated configuration.
///
/// Property, besides not crashing: loading is deterministic, so the same text is either
/// refused with the same message or gives an equal configuration twice.
///
/// Tolerated: Yams lists the keys of a mapping with duplicated keys in an order that changes
/// from one parse to the next ("found the following duplicated key(s): 'a', 'b'"), so two such
/// refusals are compared without that list.
@main
enum ConfigFuzz {
    static func main() { runFuzzer(fuzzConfig) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    let first = Result { () throws(ConfigurationError) in try Configuration.parse(yaml: text) }
    let second = Result { () throws(ConfigurationError) in try Configuration.parse(yaml: text) }
    switch (first, second) {
    case (.success(let a), .success(let b)):
        guard String(describing: a) == String(describing: b) else { violated("the same text gave two configurations", bytes) }
    case (.failure(let a), .failure(let b)):
        guard stable(a.description) == stable(b.description) else { violated("the same text was refused twice differently: \(a) / \(b)", bytes) }
    default:
        violated("the same text was accepted once and refused once", bytes)
    }
    return 0
}

/// A refusal's message without Yams' unordered list of duplicated keys.
private func stable(_ message: String) -> String {
    guard let range = message.range(of: "duplicated key(s):") else { return message }
    return String(message[..<range.upperBound])
}
