/// Stops the run on a broken property: libFuzzer sees the crash and saves the input that
/// caused it (`crash-<sha1>` in the working directory, or under `-artifact_prefix`).
public func violated(_ property: String, _ input: UnsafeBufferPointer<UInt8>) -> Never {
    let shown = input.count <= 512 ? String(decoding: input, as: UTF8.self).debugDescription : "\(input.count) bytes"
    fatalError("property violated: \(property)\ninput: \(shown)")
}

/// A deterministic split of one input: its first byte, and the rest. Targets use the byte to
/// choose an option (an encoding, a precision, where to cut a stream) so that libFuzzer can
/// mutate the choice along with the data.
public func selector(_ data: UnsafePointer<UInt8>, _ size: Int) -> (choice: UInt8, rest: UnsafeBufferPointer<UInt8>) {
    guard size > 0 else { return (0, UnsafeBufferPointer(start: data, count: 0)) }
    return (data[0], UnsafeBufferPointer(start: data + 1, count: size - 1))
}
