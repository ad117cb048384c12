// The target is its header's static inline function; SwiftPM needs one source file to build it.
#include "sluice_prefetch.h"
