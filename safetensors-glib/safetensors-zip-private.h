/* safetensors-zip-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A reader for zip archives held in memory (a mapped file), as
 * torch.save () writes them: the central directory is authoritative
 * (torch's local headers carry zero sizes), ZIP64 end records and extra
 * fields are understood, entries are stored or deflated.
 *
 * Opening validates the whole directory before anything is read:
 * names must be relative UTF-8 paths without “.”, “..”, empty
 * components, backslashes or drive letters; no two entries may share a
 * name or overlap; every entry must lie before the central directory.
 * Encrypted entries, other compression methods and multi-volume
 * archives are refused with UNSUPPORTED, everything else malformed with
 * INVALID_DATA. Messages name the entry but not the archive. */

typedef struct
{
  char     *name;
  guint16   flags;
  guint16   method;             /* 0 stored, 8 deflate */
  guint32   crc32;
  guint64   compressed_size;
  guint64   uncompressed_size;
  guint64   header_offset;      /* local header */
  guint64   data_offset;        /* first byte of the (compressed) data */
} SafetensorsZipEntry;

#define SAFETENSORS_ZIP_METHOD_STORED  0
#define SAFETENSORS_ZIP_METHOD_DEFLATE 8

/* Deflate cannot expand data by more than about 1032:1; an entry that
 * claims more cannot be valid. */
#define SAFETENSORS_ZIP_MAX_DEFLATE_RATIO 1032

/* A checkpoint has an entry per storage and a few records; more entries
 * than this are refused (INVALID_DATA) before anything is allocated for
 * them. */
#define SAFETENSORS_ZIP_MAX_ENTRIES (1u << 20)

typedef struct _SafetensorsZip SafetensorsZip;

/* TRUE when @data starts like a zip archive (a local header, or the end
 * record of an empty archive). */
gboolean                   safetensors_zip_has_magic    (const guint8    *data,
                                                         guint64          size);

SafetensorsZip            *safetensors_zip_open         (const guint8    *data,
                                                         guint64          size,
                                                         GError         **error);
void                       safetensors_zip_free         (SafetensorsZip  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsZip, safetensors_zip_free)

/* In central directory order. Folder entries (names ending in “/”)
 * are included. */
guint                      safetensors_zip_get_n_entries (SafetensorsZip *self);
const SafetensorsZipEntry *safetensors_zip_get_entry    (SafetensorsZip  *self,
                                                         guint            index);
const SafetensorsZipEntry *safetensors_zip_lookup       (SafetensorsZip  *self,
                                                         const char      *name);

/* Reads a whole entry into memory, checking its size and CRC; entries
 * larger than @max_size are refused (INVALID_DATA) before anything is
 * inflated. */
GBytes                    *safetensors_zip_read         (SafetensorsZip            *self,
                                                         const SafetensorsZipEntry *entry,
                                                         guint64                    max_size,
                                                         GCancellable              *cancellable,
                                                         GError                   **error);

/* Writes the uncompressed contents of @entry to @fd from its current
 * position, checking size and CRC. Output stops at the declared size: a
 * deflate stream that would produce more is an error. */
gboolean                   safetensors_zip_extract_to_fd (SafetensorsZip           *self,
                                                         const SafetensorsZipEntry *entry,
                                                         int                        fd,
                                                         GCancellable              *cancellable,
                                                         GError                   **error);

guint32                    safetensors_zip_crc32        (guint32          crc,
                                                         const guint8    *data,
                                                         gsize            len);

G_END_DECLS
