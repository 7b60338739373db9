#ifndef SLUICE_CFUZZER_H
#define SLUICE_CFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, for a program that has its own main (SwiftPM names the entry point of an
/// executable target itself, so libFuzzer's main cannot be used).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
