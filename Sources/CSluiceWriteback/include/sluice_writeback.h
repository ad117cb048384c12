#ifndef SLUICE_WRITEBACK_H
#define SLUICE_WRITEBACK_H

/// Asks the kernel to start writing `count` bytes of `fd` from `offset` to the disk, and returns
/// at once (Linux's sync_file_range with SYNC_FILE_RANGE_WRITE). It makes nothing durable: a
/// later fsync still has to, but finds less left to write. Returns 0, or -1 with errno set
/// (ENOSYS where the call does not exist).
int sluice_start_writeback(int fd, long long offset, long long count);

#endif
