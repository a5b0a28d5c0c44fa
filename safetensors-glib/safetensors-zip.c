/* safetensors-zip.c — zip central-directory reader: ZIP64, stored and
 * deflated entries
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "safetensors-error-private.h"
#include "safetensors-zip-private.h"

#define SIG_LOCAL          0x04034b50u
#define SIG_CENTRAL        0x02014b50u
#define SIG_EOCD           0x06054b50u
#define SIG_ZIP64_EOCD     0x06064b50u
#define SIG_ZIP64_LOCATOR  0x07064b50u

#define LOCAL_HEADER_SIZE    30
#define CENTRAL_HEADER_SIZE  46
#define EOCD_SIZE            22
#define ZIP64_EOCD_SIZE      56
#define ZIP64_LOCATOR_SIZE   20

#define FLAG_ENCRYPTED        (1u << 0)
#define FLAG_STRONG_ENCRYPTED (1u << 6)

#define CHUNK_SIZE (256 * 1024)

struct _SafetensorsZip
{
  const guint8        *data;
  guint64              size;
  SafetensorsZipEntry *entries;
  guint                n_entries;
  GHashTable          *by_name;     /* name → SafetensorsZipEntry* */
};

static guint16
get16 (const guint8 *p)
{
  return p[0] | (p[1] << 8);
}

static guint32
get32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static guint64
get64 (const guint8 *p)
{
  return get32 (p) | ((guint64) get32 (p + 4) << 32);
}


guint32
safetensors_zip_crc32 (guint32       crc,
                       const guint8 *data,
                       gsize         len)
{
  static guint32 table[256];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;

          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&initialized, 1);
    }

  crc = ~crc;
  for (gsize i = 0; i < len; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

gboolean
safetensors_zip_has_magic (const guint8 *data,
                           guint64       size)
{
  return size >= 4 && (get32 (data) == SIG_LOCAL || get32 (data) == SIG_EOCD);
}

void
safetensors_zip_free (SafetensorsZip *self)
{
  if (self == NULL)
    return;

  for (guint i = 0; i < self->n_entries; i++)
    g_free (self->entries[i].name);
  g_free (self->entries);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_free (self);
}

/* Entry names become lookup keys and, for anyone who unpacks the
 * archive, paths: accept only plain relative ones. */
static gboolean
check_name (const char  *name,
            GError     **error)
{
  g_auto(GStrv) components = NULL;
  guint n;

  if (name[0] == '\0')
    return safetensors_set_invalid_data (error, "an entry has an empty name");
  if (name[0] == '/')
    return safetensors_set_invalid_data (error, "entry “%s” has an absolute name", name);
  if (strchr (name, '\\') != NULL)
    return safetensors_set_invalid_data (error, "entry “%s” has a backslash in its name", name);
  if (g_ascii_isalpha (name[0]) && name[1] == ':')
    return safetensors_set_invalid_data (error, "entry “%s” starts with a drive letter", name);

  components = g_strsplit (name, "/", -1);
  n = g_strv_length (components);
  for (guint i = 0; i < n; i++)
    {
      /* A folder entry ends with “/”: its last component is empty. */
      if (components[i][0] == '\0' && i == n - 1 && n > 1)
        continue;
      if (components[i][0] == '\0' || g_str_equal (components[i], ".") ||
          g_str_equal (components[i], ".."))
        return safetensors_set_invalid_data (error, "entry “%s” has an empty, “.” or “..” component in its name", name);
    }
  return TRUE;
}

/* Finds the end of central directory record: the last one whose
 * comment fits in the file. */
static gboolean
find_eocd (SafetensorsZip  *self,
           guint64         *out_offset,
           GError         **error)
{
  guint64 lowest;

  if (self->size < EOCD_SIZE)
    return safetensors_set_invalid_data (error, "too short to be a zip archive");

  lowest = self->size > EOCD_SIZE + 0xffff ? self->size - EOCD_SIZE - 0xffff : 0;
  for (guint64 pos = self->size - EOCD_SIZE + 1; pos-- > lowest;)
    {
      if (get32 (self->data + pos) == SIG_EOCD &&
          pos + EOCD_SIZE + get16 (self->data + pos + 20) <= self->size)
        {
          *out_offset = pos;
          return TRUE;
        }
    }
  return safetensors_set_invalid_data (error, "no end of central directory record: not a zip archive, or truncated");
}

static gboolean
parse_zip64_extra (const guint8         *extra,
                   guint                 extra_len,
                   SafetensorsZipEntry  *entry,
                   guint32               usize32,
                   guint32               csize32,
                   guint32               offset32,
                   GError              **error)
{
  guint pos = 0;

  while (pos + 4 <= extra_len)
    {
      guint16 id = get16 (extra + pos);
      guint16 len = get16 (extra + pos + 2);
      const guint8 *field = extra + pos + 4;
      guint used = 0;

      if (pos + 4 + len > extra_len)
        return safetensors_set_invalid_data (error, "entry “%s” has a truncated extra field", entry->name);

      if (id == 0x0001)
        {
          /* Only the fields whose 32-bit value is saturated are here, in
           * this order. */
          guint64 *targets[] = { &entry->uncompressed_size, &entry->compressed_size,
                                 &entry->header_offset };
          gboolean present[] = { usize32 == 0xffffffffu, csize32 == 0xffffffffu,
                                 offset32 == 0xffffffffu };

          for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
            {
              if (!present[i])
                continue;
              if (used + 8 > len)
                return safetensors_set_invalid_data (error, "entry “%s” has a ZIP64 extra field too short for its sizes",
                                entry->name);
              *targets[i] = get64 (field + used);
              used += 8;
            }
        }
      pos += 4 + len;
    }

  return TRUE;
}

static gboolean
read_central_entry (SafetensorsZip       *self,
                    guint64              *pos,
                    guint64               cd_end,
                    SafetensorsZipEntry  *entry,
                    GError              **error)
{
  const guint8 *p = self->data + *pos;
  guint16 name_len, extra_len, comment_len;
  guint32 csize32, usize32, offset32;

  if (cd_end - *pos < CENTRAL_HEADER_SIZE || get32 (p) != SIG_CENTRAL)
    return safetensors_set_invalid_data (error, "the central directory is malformed");

  name_len = get16 (p + 28);
  extra_len = get16 (p + 30);
  comment_len = get16 (p + 32);
  if (cd_end - *pos - CENTRAL_HEADER_SIZE < (guint64) name_len + extra_len + comment_len)
    return safetensors_set_invalid_data (error, "the central directory is truncated");

  if (memchr (p + CENTRAL_HEADER_SIZE, '\0', name_len) != NULL ||
      !g_utf8_validate_len ((const char *) p + CENTRAL_HEADER_SIZE, name_len, NULL))
    return safetensors_set_invalid_data (error, "an entry name is not UTF-8 text");
  entry->name = g_strndup ((const char *) p + CENTRAL_HEADER_SIZE, name_len);

  entry->flags = get16 (p + 8);
  entry->method = get16 (p + 10);
  entry->crc32 = get32 (p + 16);
  csize32 = get32 (p + 20);
  usize32 = get32 (p + 24);
  offset32 = get32 (p + 42);
  entry->compressed_size = csize32;
  entry->uncompressed_size = usize32;
  entry->header_offset = offset32;

  if (get16 (p + 34) != 0 && get16 (p + 34) != 0xffff)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "multi-volume zip archives are not supported");
      return FALSE;
    }

  if (!parse_zip64_extra (p + CENTRAL_HEADER_SIZE + name_len, extra_len, entry,
                          usize32, csize32, offset32, error))
    return FALSE;

  *pos += CENTRAL_HEADER_SIZE + name_len + extra_len + comment_len;
  return TRUE;
}

/* The local header gives where the data starts (its extra field, which
 * torch uses to align data to 64 bytes, differs from the central one). */
static gboolean
locate_data (SafetensorsZip       *self,
             SafetensorsZipEntry  *entry,
             guint64               cd_offset,
             GError              **error)
{
  const guint8 *p;
  guint16 name_len, extra_len;
  guint64 end;

  if (entry->header_offset > cd_offset || cd_offset - entry->header_offset < LOCAL_HEADER_SIZE)
    return safetensors_set_invalid_data (error, "entry “%s” starts outside the archive's data", entry->name);

  p = self->data + entry->header_offset;
  if (get32 (p) != SIG_LOCAL)
    return safetensors_set_invalid_data (error, "entry “%s” has no local header where the directory says", entry->name);

  name_len = get16 (p + 26);
  extra_len = get16 (p + 28);
  entry->data_offset = entry->header_offset + LOCAL_HEADER_SIZE + name_len + extra_len;
  if (entry->data_offset > cd_offset)
    return safetensors_set_invalid_data (error, "the local header of entry “%s” runs into the central directory",
                    entry->name);
  if (name_len != strlen (entry->name) ||
      memcmp (p + LOCAL_HEADER_SIZE, entry->name, name_len) != 0)
    return safetensors_set_invalid_data (error, "the local header of entry “%s” names another entry", entry->name);

  if (!g_uint64_checked_add (&end, entry->data_offset, entry->compressed_size) || end > cd_offset)
    return safetensors_set_invalid_data (error, "the data of entry “%s” runs past the archive's data", entry->name);

  return TRUE;
}

static int
compare_by_offset (gconstpointer a,
                   gconstpointer b)
{
  const SafetensorsZipEntry *x = *(SafetensorsZipEntry * const *) a;
  const SafetensorsZipEntry *y = *(SafetensorsZipEntry * const *) b;

  return x->header_offset < y->header_offset ? -1 : x->header_offset > y->header_offset;
}

/* Overlapping entries are how zip bombs multiply their output, and how
 * two readers can disagree about an archive: refuse them. */
static gboolean
check_overlaps (SafetensorsZip  *self,
                GError         **error)
{
  g_autofree SafetensorsZipEntry **sorted = g_new (SafetensorsZipEntry *, MAX (self->n_entries, 1));

  for (guint i = 0; i < self->n_entries; i++)
    sorted[i] = &self->entries[i];
  qsort (sorted, self->n_entries, sizeof *sorted, compare_by_offset);

  for (guint i = 1; i < self->n_entries; i++)
    {
      SafetensorsZipEntry *before = sorted[i - 1];

      if (sorted[i]->header_offset < before->data_offset + before->compressed_size)
        return safetensors_set_invalid_data (error, "entries “%s” and “%s” overlap", before->name, sorted[i]->name);
    }
  return TRUE;
}

static gboolean
check_entry (SafetensorsZipEntry  *entry,
             GError              **error)
{
  if (entry->flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTED) || entry->method == 99)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "entry “%s” is encrypted", entry->name);
      return FALSE;
    }
  if (entry->method != SAFETENSORS_ZIP_METHOD_STORED && entry->method != SAFETENSORS_ZIP_METHOD_DEFLATE)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "entry “%s” uses compression method %u; only stored and deflated "
                   "entries are supported", entry->name, entry->method);
      return FALSE;
    }
  if (entry->method == SAFETENSORS_ZIP_METHOD_STORED &&
      entry->compressed_size != entry->uncompressed_size)
    return safetensors_set_invalid_data (error, "stored entry “%s” has different compressed and uncompressed sizes",
                    entry->name);
  if (entry->method == SAFETENSORS_ZIP_METHOD_DEFLATE &&
      entry->uncompressed_size / SAFETENSORS_ZIP_MAX_DEFLATE_RATIO > entry->compressed_size + 1024)
    return safetensors_set_invalid_data (error, "entry “%s” claims to inflate %" G_GUINT64_FORMAT " bytes into %"
                    G_GUINT64_FORMAT ", more than deflate can produce",
                    entry->name, entry->compressed_size, entry->uncompressed_size);
  return TRUE;
}

SafetensorsZip *
safetensors_zip_open (const guint8  *data,
                      guint64        size,
                      GError       **error)
{
  g_autoptr(SafetensorsZip) self = g_new0 (SafetensorsZip, 1);
  guint64 eocd = 0, cd_limit, cd_offset, cd_size, n_entries, cd_end, pos;
  const guint8 *p;

  self->data = data;
  self->size = size;
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  if (!find_eocd (self, &eocd, error))
    return NULL;

  p = data + eocd;
  if (get16 (p + 4) != 0 || get16 (p + 6) != 0)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                   "multi-volume zip archives are not supported");
      return NULL;
    }
  n_entries = get16 (p + 10);
  cd_size = get32 (p + 12);
  cd_offset = get32 (p + 16);
  cd_limit = eocd;

  if (eocd >= ZIP64_LOCATOR_SIZE && get32 (data + eocd - ZIP64_LOCATOR_SIZE) == SIG_ZIP64_LOCATOR)
    {
      guint64 record = get64 (data + eocd - ZIP64_LOCATOR_SIZE + 8);

      if (record > eocd - ZIP64_LOCATOR_SIZE ||
          eocd - ZIP64_LOCATOR_SIZE - record < ZIP64_EOCD_SIZE ||
          get32 (data + record) != SIG_ZIP64_EOCD)
        {
          safetensors_set_invalid_data (error, "the ZIP64 end of central directory record is missing");
          return NULL;
        }
      p = data + record;
      if (get32 (p + 16) != 0 || get32 (p + 20) != 0)
        {
          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_UNSUPPORTED,
                       "multi-volume zip archives are not supported");
          return NULL;
        }
      n_entries = get64 (p + 32);
      cd_size = get64 (p + 40);
      cd_offset = get64 (p + 48);
      cd_limit = record;
    }

  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset)
    {
      safetensors_set_invalid_data (error, "the central directory lies outside the archive");
      return NULL;
    }
  /* Checked before allocating anything per entry. */
  if (n_entries > SAFETENSORS_ZIP_MAX_ENTRIES)
    {
      safetensors_set_invalid_data (error, "the archive has %" G_GUINT64_FORMAT " entries, more than "
                                    "the %u supported", n_entries, SAFETENSORS_ZIP_MAX_ENTRIES);
      return NULL;
    }
  if (n_entries > cd_size / CENTRAL_HEADER_SIZE)
    {
      safetensors_set_invalid_data (error, "the central directory claims %" G_GUINT64_FORMAT
               " entries but has room for %" G_GUINT64_FORMAT,
               n_entries, cd_size / CENTRAL_HEADER_SIZE);
      return NULL;
    }

  self->entries = g_new0 (SafetensorsZipEntry, MAX (n_entries, 1));
  cd_end = cd_offset + cd_size;
  pos = cd_offset;
  for (guint64 i = 0; i < n_entries; i++)
    {
      SafetensorsZipEntry *entry = &self->entries[i];

      /* Counted first: a failure after its name was read frees it too. */
      self->n_entries++;
      if (!read_central_entry (self, &pos, cd_end, entry, error))
        return NULL;

      if (!check_name (entry->name, error) || !check_entry (entry, error))
        return NULL;
      if (!g_hash_table_insert (self->by_name, entry->name, entry))
        {
          safetensors_set_invalid_data (error, "two entries are named “%s”", entry->name);
          return NULL;
        }
      if (!locate_data (self, entry, cd_offset, error))
        return NULL;
    }

  if (!check_overlaps (self, error))
    return NULL;

  return g_steal_pointer (&self);
}

guint
safetensors_zip_get_n_entries (SafetensorsZip *self)
{
  return self->n_entries;
}

const SafetensorsZipEntry *
safetensors_zip_get_entry (SafetensorsZip *self,
                           guint           index)
{
  g_assert (index < self->n_entries);
  return &self->entries[index];
}

const SafetensorsZipEntry *
safetensors_zip_lookup (SafetensorsZip *self,
                        const char     *name)
{
  return g_hash_table_lookup (self->by_name, name);
}

/* ------------------------------------------------------------------ */
/* Reading entries                                                    */
/* ------------------------------------------------------------------ */

typedef gboolean (*Sink) (const guint8  *data,
                          gsize          len,
                          gpointer       user_data,
                          GError       **error);

/* Feeds the uncompressed bytes of @entry to @sink, never more than its
 * declared size, then checks size and CRC. */
static gboolean
extract (SafetensorsZip             *self,
         const SafetensorsZipEntry  *entry,
         Sink                        sink,
         gpointer                    user_data,
         GCancellable               *cancellable,
         GError                    **error)
{
  const guint8 *in = self->data + entry->data_offset;
  guint64 in_left = entry->compressed_size;
  guint64 produced = 0;
  guint32 crc = 0;

  if (entry->method == SAFETENSORS_ZIP_METHOD_STORED)
    {
      while (in_left > 0)
        {
          gsize n = MIN (in_left, CHUNK_SIZE);

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
          crc = safetensors_zip_crc32 (crc, in, n);
          if (!sink (in, n, user_data, error))
            return FALSE;
          in += n;
          in_left -= n;
        }
      produced = entry->compressed_size;
    }
  else
    {
      g_autoptr(GConverter) inflater = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW));
      g_autofree guint8 *out = g_malloc (CHUNK_SIZE);
      GConverterResult result = G_CONVERTER_CONVERTED;

      while (result != G_CONVERTER_FINISHED)
        {
          g_autoptr(GError) local_error = NULL;
          gsize n_read = 0, n_written = 0;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
          result = g_converter_convert (inflater, in, MIN (in_left, G_MAXSIZE), out, CHUNK_SIZE,
                                        G_CONVERTER_INPUT_AT_END, &n_read, &n_written,
                                        &local_error);
          if (result == G_CONVERTER_ERROR)
            return safetensors_set_invalid_data (error, "entry “%s” holds corrupt deflate data: %s",
                            entry->name, local_error->message);
          in += n_read;
          in_left -= n_read;
          if (n_written > entry->uncompressed_size - produced)
            return safetensors_set_invalid_data (error, "entry “%s” inflates to more than its declared %"
                            G_GUINT64_FORMAT " bytes", entry->name, entry->uncompressed_size);
          if (n_read == 0 && n_written == 0 && result != G_CONVERTER_FINISHED)
            return safetensors_set_invalid_data (error, "entry “%s” holds a truncated deflate stream", entry->name);
          crc = safetensors_zip_crc32 (crc, out, n_written);
          if (n_written > 0 && !sink (out, n_written, user_data, error))
            return FALSE;
          produced += n_written;
        }
    }

  if (produced != entry->uncompressed_size)
    return safetensors_set_invalid_data (error, "entry “%s” inflates to %" G_GUINT64_FORMAT " bytes, not the declared %"
                    G_GUINT64_FORMAT, entry->name, produced, entry->uncompressed_size);
  if (crc != entry->crc32)
    return safetensors_set_invalid_data (error, "entry “%s” fails its CRC check", entry->name);
  return TRUE;
}

static gboolean
sink_to_array (const guint8  *data,
               gsize          len,
               gpointer       user_data,
               GError       **error)
{
  g_byte_array_append (user_data, data, len);
  return TRUE;
}

GBytes *
safetensors_zip_read (SafetensorsZip             *self,
                      const SafetensorsZipEntry  *entry,
                      guint64                     max_size,
                      GCancellable               *cancellable,
                      GError                    **error)
{
  g_autoptr(GByteArray) array = NULL;

  if (entry->uncompressed_size > max_size)
    {
      safetensors_set_invalid_data (error, "entry “%s” is %" G_GUINT64_FORMAT " bytes, more than the %"
               G_GUINT64_FORMAT " allowed", entry->name, entry->uncompressed_size, max_size);
      return NULL;
    }

  /* Grows with what actually inflates, not with what the entry claims. */
  array = g_byte_array_new ();
  if (!extract (self, entry, sink_to_array, array, cancellable, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&array));
}

static gboolean
sink_to_fd (const guint8  *data,
            gsize          len,
            gpointer       user_data,
            GError       **error)
{
  int fd = GPOINTER_TO_INT (user_data);

  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "cannot write a temporary file: %s", g_strerror (saved_errno));
          return FALSE;
        }
      data += n;
      len -= n;
    }
  return TRUE;
}

gboolean
safetensors_zip_extract_to_fd (SafetensorsZip             *self,
                               const SafetensorsZipEntry  *entry,
                               int                         fd,
                               GCancellable               *cancellable,
                               GError                    **error)
{
  return extract (self, entry, sink_to_fd, GINT_TO_POINTER (fd), cancellable, error);
}
