import SluiceModel

extension StoreReader {
    /// The windows matching `query` rolled up to `step` as they stream past (see
    /// `WindowRollup.Accumulator`): the read holds one union per series per step, so its
    /// memory follows the answer, not the range it covers.
    public func rolledUp(_ query: StoreQuery, step: WindowDuration) throws(StoreError) -> WindowRollup.Accumulator {
        var accumulator = WindowRollup.Accumulator(step: step)
        try forEach(query) { (record: StoredRecord) throws(StoreError) in
            if case .output(let window) = record { accumulator.add(window) }
        }
        return accumulator
    }
}
