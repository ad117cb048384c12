import Testing
import SluiceModel

@Suite("Tenant ids")
struct TenantIDTests {
    /// The rule as the design states it, written out plainly.
    static func valid(_ bytes: [UInt8]) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-".utf8)
        return !bytes.isEmpty && bytes.count <= 150 && bytes.allSatisfy(allowed.contains) && bytes != [0x2E] && bytes != [0x2E, 0x2E]
    }

    @Test("every byte in every position of ids from 1 to 4 bytes long, and lengths around the limit, as the rule says")
    func agreesWithTheRule() {
        var cases: [[UInt8]] = []
        for length in 1...4 {
            for position in 0..<length {
                for b in 0...255 {
                    var id = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    id[position] = UInt8(b)
                    cases.append(id)
                }
            }
        }
        cases += [[], [0x2E, 0x2E, 0x2E], [UInt8](repeating: 0x61, count: 150), [UInt8](repeating: 0x61, count: 151)]
        for id in cases {
            // Contiguous bytes (the decoder's path) and a collection that is not.
            let contiguous = TenantID.problem(id)
            let scattered = TenantID.problem(id.lazy.map { $0 })
            #expect((contiguous == nil) == Self.valid(id), "\(id)")
            #expect(contiguous == scattered, "\(id)")
        }
        #expect(TenantID.problem(Array("shop-eu".utf8)) == nil)
        #expect(TenantID.problem(Array("shop eu".utf8)) == "tenant_id may only hold A-Z a-z 0-9 . _ : -")
        #expect(TenantID.problem(Array("..".utf8)) == "tenant_id may not be \".\" or \"..\"")
    }
}
