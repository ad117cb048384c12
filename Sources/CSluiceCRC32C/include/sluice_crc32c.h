#ifndef SLUICE_CRC32C_H
#define SLUICE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this processor computes CRC-32C in hardware (x86-64 SSE 4.2, AArch64 CRC32):
/// `sluice_crc32c_update` may be called only when it does.
int sluice_crc32c_hardware(void);

/// Continues the CRC-32C register `crc` over `count` bytes at `bytes`, and returns it. The
/// register is not inverted here: the caller inverts before the first byte and after the last.
uint32_t sluice_crc32c_update(uint32_t crc, const void *bytes, size_t count);

#endif
