#ifndef SLUICE_CZLIB_SHIM_H
#define SLUICE_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are macros in zlib.h; Swift cannot call macros, so they are
// wrapped here as functions. windowBits 15 + 16 selects the gzip container (RFC 1952);
// 15 + 32 lets inflate detect gzip or zlib headers on its own.
static inline int sluice_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

static inline int sluice_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

#endif
