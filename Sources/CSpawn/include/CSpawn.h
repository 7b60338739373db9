#ifndef SLUICE_CSPAWN_H
#define SLUICE_CSPAWN_H

#include <spawn.h>

/// glibc's posix_spawn_file_actions_addchdir_np, which Swift's Glibc module does not export (it is
/// declared only under _GNU_SOURCE): the child changes to `path` before it runs the program.
int sluice_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
