// LLVMFuzzerRunDriver comes from libFuzzer, linked by -sanitize=fuzzer; this target only declares it.
#include "CFuzzer.h"
