/// Holds a JSON reader to the grammar: whatever `accepted` says it read must be one valid JSON
/// text by `StrictJSON`. A reader may be stricter (lone surrogates, depth limits), never looser.
public func checkStrictness(_ body: UnsafeBufferPointer<UInt8>, accepted: Bool, reader: String) {
    guard accepted else { return }
    // A byte order mark before the document is allowed by the HTTP readers, not by the grammar.
    let mark = body.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    guard StrictJSON.validate(UnsafeBufferPointer(rebasing: body[mark...])) != nil else {
        violated("\(reader) accepted a body that is not valid JSON", body)
    }
}
