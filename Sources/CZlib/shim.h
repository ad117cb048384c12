#ifndef SLUICE_CZLIB_SHIM_H
#define SLUICE_CZLIB_SHIM_H
#include <zlib.h>

// `inflateInit2` is a macro; Swift sees this instead.
static inline int sluice_inflate_init(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

// `deflateInit2` is a macro too.
static inline int sluice_deflate_init(z_stream *stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
#endif
