import FuzzCheck
import SluiceModel
import SluicePipeline

/// The JSON array splitter behind HTTP bodies that are an array of records.
///
/// Properties, besides not crashing:
/// - a body the splitter accepts has the array's shape: as many elements as `StrictJSON`
///   counts, each one a valid JSON text on its own when its strings are (the splitter leaves
///   strings to the element's decoder, so one bad element is refused alone);
/// - a body `StrictJSON` reads as an array (nested at most as deep as the scanner allows, and
///   without `NaN`-like words, which are not JSON anyway) is accepted;
/// - a body whose elements all decode was valid JSON as a whole, and numbering the refusals
///   from 1 names the elements refused.
@main
enum JSONArrayFuzz {
    static func main() { runFuzzer(fuzzJSONArray) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONArray(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let body = UnsafeBufferPointer(start: data, count: size)
    let oracle = StrictJSON.validate(body)
    switch JSONArraySplitter.elements(body) {
    case .success(let ranges):
        if let (shape, _) = oracle {
            guard shape == .array(elements: ranges.count) else {
                violated("the splitter found \(ranges.count) elements in a body that is \(shape)", body)
            }
        }
        for range in ranges {
            let element = UnsafeBufferPointer(rebasing: body[range])
            guard let first = element.first, first != 0x20, first != 0x0A, first != 0x0D, first != 0x09,
                  let last = element.last, last != 0x20, last != 0x0A, last != 0x0D, last != 0x09
            else { violated("an element's range \(range) has whitespace at an end", body) }
        }
        checkDecoded(body, ranges)
    case .failure(let error):
        if let (shape, depth) = oracle, case .array = shape, depth <= 64 {
            violated("the splitter refused a valid JSON array: \(error)", body)
        }
    }
    return 0
}

/// Decodes the body as the HTTP routes do and checks the element numbering.
private func checkDecoded(_ body: UnsafeBufferPointer<UInt8>, _ ranges: [Range<Int>]) {
    let now = Timestamp(microseconds: 1_764_000_000_000_000)
    let configuration = NDJSONDecoder.Configuration()
    guard case .success(let batch) = IngestDecoder.decode(message: body, arrays: true, decoder: configuration, now: now, source: nil) else {
        violated("the message decoder refused a body the splitter accepted", body)
    }
    guard batch.records.count + batch.rejections.count == ranges.count else {
        violated("\(ranges.count) elements gave \(batch.records.count) records and \(batch.rejections.count) refusals", body)
    }
    for rejection in batch.rejections where !(1...ranges.count).contains(rejection.line) {
        violated("refusal numbered \(rejection.line) of \(ranges.count) elements", body)
    }
    if batch.rejections.isEmpty, StrictJSON.validate(body) == nil {
        violated("every element decoded, yet the body is not valid JSON", body)
    }
}
