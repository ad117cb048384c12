/// A 64-bit hash that is the same in every process and on every run.
///
/// Swift's `Hasher` is seeded per process, which would make HyperLogLog estimates (and so replay
/// output) differ between runs. This is FNV-1a over the bytes followed by the MurmurHash3
/// finaliser, which spreads FNV's weak low bits over all 64.
public enum StableHash {
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return mix(h)
    }

    /// Hashes a string's UTF-8 bytes.
    @inlinable
    public static func hash(_ text: String) -> UInt64 {
        var copy = text
        return copy.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// MurmurHash3's 64-bit finaliser.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
