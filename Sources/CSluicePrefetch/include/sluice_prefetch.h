#ifndef SLUICE_PREFETCH_H
#define SLUICE_PREFETCH_H

/// Asks the processor to bring the cache line holding `address` into its caches, ready to be
/// written, and returns at once. A hint only: nothing is read, so any address will do, a stale
/// one included.
static inline __attribute__((always_inline)) void sluice_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
