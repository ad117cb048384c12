// sync_file_range is a GNU extension: Swift's Glibc module does not declare it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include "sluice_writeback.h"

int sluice_start_writeback(int fd, long long offset, long long count) {
#if defined(__linux__)
    return sync_file_range(fd, (off_t)offset, (off_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    errno = ENOSYS;
    return -1;
#endif
}
