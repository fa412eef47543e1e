#ifndef VIGIL_CTURBOJPEG_SHIM_H
#define VIGIL_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>

/// `TJSCALED` is a function-like macro that Swift cannot import.
static inline int vigil_tjscaled(int dimension, tjscalingfactor factor) {
    return TJSCALED(dimension, factor);
}
#endif
