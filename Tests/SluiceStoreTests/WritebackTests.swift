#if os(Linux)
import Glibc
import Testing
import CSluiceWriteback
import SluiceTesting

/// The hint the segment appender gives after each frame: the kernel starts writing it, so the
/// seal's fsync waits for the last frames only.
@Suite("Writeback hint")
struct WritebackTests {
    @Test("the hint reaches the kernel: a file's written range is accepted, a closed descriptor refused")
    func reachesTheKernel() throws {
        let path = TestFiles.temporaryDirectory("sluice-writeback") + "/file"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        let bytes = [UInt8](repeating: 7, count: 1 << 16)
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count)
        #expect(sluice_start_writeback(fd, 0, Int64(bytes.count)) == 0)
        close(fd)
        // A stub that returned 0 whatever it was given would pass the line above, not this one.
        #expect(sluice_start_writeback(fd, 0, Int64(bytes.count)) == -1)
        #expect(errno == EBADF)
    }
}
#endif
