/* test-util.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

/* The ways a file can be read; every read test runs once per backend. */
typedef enum
{
  TEST_BACKEND_MMAP,
  TEST_BACKEND_PREAD,
  TEST_BACKEND_STREAM,
} TestBackend;

extern const char *test_backend_names[3];

/* A scratch directory removed at exit. */
const char      *test_tmpdir           (void);

/* Writes 8-byte LE length + @json padded with @pad_spaces spaces + @data to
 * a new file in the scratch directory and returns its path. */
char            *test_write_safetensors (const char   *json,
                                         guint         pad_spaces,
                                         const void   *data,
                                         gsize         data_len);
/* Writes raw bytes. */
char            *test_write_raw        (const void   *bytes,
                                        gsize         len);

/* A GFile for @path as @backend sees it: TEST_BACKEND_STREAM wraps it in a
 * GFile without a local path, so that the library must use the stream
 * backend. */
GFile           *test_file_for_backend (const char   *path,
                                        TestBackend   backend);
SafetensorsFile *test_open             (const char   *path,
                                        TestBackend   backend,
                                        GError      **error);

G_END_DECLS
