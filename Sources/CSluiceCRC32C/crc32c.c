#include "sluice_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int sluice_crc32c_hardware(void) {
    return __builtin_cpu_supports("sse4.2");
}

// Compiled for SSE 4.2 whatever the build's baseline; called only where the processor has it.
__attribute__((target("sse4.2")))
uint32_t sluice_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64_t c = crc;
    for (; count >= 8; p += 8, count -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    uint32_t r = (uint32_t)c;
    for (; count > 0; p++, count--) r = _mm_crc32_u8(r, *p);
    return r;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <arm_acle.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

int sluice_crc32c_hardware(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}

__attribute__((target("crc")))
uint32_t sluice_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    for (; count >= 8; p += 8, count -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        crc = __crc32cd(crc, word);
    }
    for (; count > 0; p++, count--) crc = __crc32cb(crc, *p);
    return crc;
}

#else

int sluice_crc32c_hardware(void) {
    return 0;
}

uint32_t sluice_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;
}

#endif
