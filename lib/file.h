/* SPDX-License-Identifier: MIT */
/*
 * Small files holding keys and certificates: read whole with a size cap,
 * created exclusively and durably (O_EXCL, 0600, fsync) or replaced
 * atomically. Shared by the CA
 * (authdb/ca.c) and the enrolment bundle (auth/bundle.c).
 */
#ifndef BGW_LIB_FILE_H
#define BGW_LIB_FILE_H

#include <stddef.h>

/*
 * Read the regular file path (not a symlink) of at most max bytes into a
 * new NUL-terminated buffer (*buf, *len). -EFBIG if larger or not a
 * regular file, another negative errno on failure (*buf is then NULL).
 */
int file_read_small(const char *path, size_t max, char **buf, size_t *len);
/*
 * Create path exclusively with mode 0600, write data, fsync. -EEXIST if
 * path exists; on failure nothing is left behind.
 */
int file_write_new(const char *path, const void *data, size_t len);
/*
 * Replace path atomically with data, mode 0600 (s6's publish: a temporary
 * file made with mkstemp in the same directory, written, fsynced,
 * renamed over path, then the directory fsynced), so a reader sees the
 * old file or the new one, never a mix, and a crash loses at most this
 * write. On failure the temporary file is removed and path unchanged.
 */
int file_replace(const char *path, const void *data, size_t len);

#endif /* BGW_LIB_FILE_H */
