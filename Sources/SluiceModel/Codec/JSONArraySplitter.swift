/// Finds the elements of a JSON array without decoding them, so each can be decoded (and
/// refused) on its own: an HTTP body that is an array of records.
public enum JSONArraySplitter {
    /// The byte ranges of the array's elements, or why the body is not a JSON array.
    public static func elements(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[Range<Int>], DecodeError> {
        var scanner = JSONScanner(bytes)
        // Each element's strings are checked when it is decoded, so one bad element is refused
        // on its own rather than failing the whole body.
        scanner.validatesStrings = false
        do throws(DecodeError) {
            try scanner.expect(UInt8(ascii: "["), "expected '['")
            var ranges: [Range<Int>] = []
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: "]") {
                scanner.index += 1
            } else {
                while true {
                    scanner.skipWhitespace()
                    let start = scanner.index
                    try scanner.skipValue(depth: 1)
                    ranges.append(start..<scanner.index)
                    scanner.skipWhitespace()
                    guard let c = scanner.peek() else { throw scanner.syntaxError("expected ',' or ']'") }
                    scanner.index += 1
                    if c == UInt8(ascii: "]") { break }
                    guard c == UInt8(ascii: ",") else { scanner.index -= 1; throw scanner.syntaxError("expected ',' or ']'") }
                }
            }
            scanner.skipWhitespace()
            guard scanner.isAtEnd else { throw scanner.syntaxError("expected the end of the body after the array") }
            return .success(ranges)
        } catch {
            return .failure(error)
        }
    }
}
