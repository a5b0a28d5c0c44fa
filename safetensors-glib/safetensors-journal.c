/* safetensors-journal.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "safetensors-error.h"
#include "safetensors-journal-private.h"
#include "safetensors-sparse-private.h"

#define JOURNAL_MAGIC "STJOURN\1"
#define JOURNAL_HEADER_SIZE (8 + 4 + 4 + 8 + 8 + 8)
#define JOURNAL_CHUNK (1024 * 1024)

static void
set_errno_error (GError     **error,
                 int          saved_errno,
                 const char  *path,
                 const char  *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s: %s: %s", path, what, g_strerror (saved_errno));
}

char *
safetensors_journal_path_for (const char *file_path)
{
  g_autofree char *dir = g_path_get_dirname (file_path);
  g_autofree char *base = g_path_get_basename (file_path);
  g_autofree char *name = g_strdup_printf (".%s.safetensors-journal", base);

  return g_build_filename (dir, name, NULL);
}

gboolean
safetensors_journal_exists (const char *journal_path)
{
  struct stat st;

  return g_lstat (journal_path, &st) == 0;
}

gboolean
safetensors_lock_byte (int      fd,
                       guint64  byte,
                       short    type,
                       gboolean wait)
{
  struct flock lock = {
    .l_type = type,
    .l_whence = SEEK_SET,
    .l_start = (off_t) byte,
    .l_len = 1,
  };

  while (fcntl (fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock) != 0)
    {
      if (errno != EINTR)
        return FALSE;
    }
  return TRUE;
}


/* Appends to the journal being written, hashing as it goes. */
typedef struct
{
  int         fd;
  const char *path;
  guint64     offset;
  GChecksum  *checksum;
} JournalWriter;

static gboolean
journal_append (JournalWriter  *writer,
                const void     *data,
                gsize           len,
                GError        **error)
{
  if (!safetensors_pwrite_all (writer->fd, writer->path, writer->offset, data, len, NULL, error))
    return FALSE;
  g_checksum_update (writer->checksum, data, len);
  writer->offset += len;
  return TRUE;
}

static gboolean
journal_append_u64 (JournalWriter  *writer,
                    guint64         value,
                    GError        **error)
{
  guint64 le = GUINT64_TO_LE (value);

  return journal_append (writer, &le, sizeof le, error);
}

static gboolean
write_journal (const char               *journal_path,
               SafetensorsJournalState   state,
               int                       file_fd,
               guint64                   old_size,
               guint64                   new_size,
               GArray                   *ranges,
               GCancellable             *cancellable,
               GError                  **error)
{
  g_autofree char *tmp_path = g_strconcat (journal_path, ".tmp", NULL);
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = NULL;
  JournalWriter writer = { -1, tmp_path, 0, checksum };
  guint32 fields[2] = { GUINT32_TO_LE (state), 0 };
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  guint n_ranges = ranges != NULL ? ranges->len : 0;
  gboolean ok = FALSE;

  writer.fd = g_open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (writer.fd < 0)
    {
      set_errno_error (error, errno, tmp_path, "cannot create journal");
      return FALSE;
    }

  if (!journal_append (&writer, JOURNAL_MAGIC, 8, error) ||
      !journal_append (&writer, fields, sizeof fields, error) ||
      !journal_append_u64 (&writer, old_size, error) ||
      !journal_append_u64 (&writer, new_size, error) ||
      !journal_append_u64 (&writer, n_ranges, error))
    goto out;

  /* No larger than the largest range saved. */
  {
    gsize buffer_size = 1;

    for (guint i = 0; i < n_ranges; i++)
      buffer_size = MAX (buffer_size, MIN (g_array_index (ranges, SafetensorsRange, i).len,
                                           JOURNAL_CHUNK));
    buffer = g_malloc (buffer_size);
  }
  for (guint i = 0; i < n_ranges; i++)
    {
      const SafetensorsRange *range = &g_array_index (ranges, SafetensorsRange, i);

      if (!journal_append_u64 (&writer, range->start, error) ||
          !journal_append_u64 (&writer, range->len, error))
        goto out;

      for (guint64 done = 0; done < range->len;)
        {
          gsize n = MIN (range->len - done, JOURNAL_CHUNK);
          gssize got = pread (file_fd, buffer, n, range->start + done);

          if (got < 0 && errno == EINTR)
            continue;
          if (got <= 0)
            {
              set_errno_error (error, got < 0 ? errno : EIO, journal_path,
                               "cannot read the bytes to save");
              goto out;
            }
          if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
              !journal_append (&writer, buffer, got, error))
            goto out;
          done += got;
        }
    }

  g_checksum_get_digest (checksum, digest, &digest_len);
  if (!safetensors_pwrite_all (writer.fd, tmp_path, writer.offset, digest, sizeof digest, NULL, error))
    goto out;

  if (fsync (writer.fd) != 0)
    {
      set_errno_error (error, errno, tmp_path, "cannot sync journal");
      goto out;
    }
  if (g_rename (tmp_path, journal_path) != 0)
    {
      set_errno_error (error, errno, journal_path, "cannot install journal");
      goto out;
    }
  ok = safetensors_fsync_directory_of (journal_path, error);

out:
  close (writer.fd);
  if (!ok)
    g_unlink (tmp_path);
  return ok;
}

gboolean
safetensors_journal_write_hot (const char    *journal_path,
                               int            fd,
                               guint64        old_size,
                               GArray        *ranges,
                               GCancellable  *cancellable,
                               GError       **error)
{
  return write_journal (journal_path, SAFETENSORS_JOURNAL_HOT, fd, old_size, 0, ranges,
                        cancellable, error);
}

gboolean
safetensors_journal_write_done (const char  *journal_path,
                                guint64      old_size,
                                guint64      new_size,
                                GError     **error)
{
  return write_journal (journal_path, SAFETENSORS_JOURNAL_DONE, -1, old_size, new_size, NULL,
                        NULL, error);
}

gboolean
safetensors_journal_remove (const char  *journal_path,
                            GError     **error)
{
  if (g_unlink (journal_path) != 0 && errno != ENOENT)
    {
      set_errno_error (error, errno, journal_path, "cannot delete journal");
      return FALSE;
    }
  return safetensors_fsync_directory_of (journal_path, error);
}

/* ---- recovery ------------------------------------------------------------ */

typedef struct
{
  int         fd;
  const char *path;
  guint64     size;
  guint64     offset;
} JournalReader;

static gboolean
corrupt (GError     **error,
         const char  *journal_path,
         const char  *display_name,
         const char  *why)
{
  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_CORRUPT_JOURNAL,
               "%s: its rollback journal %s is damaged (%s); nothing was changed. "
               "Move the journal away to open the file as it is",
               display_name, journal_path, why);
  return FALSE;
}

static gboolean
read_exact (JournalReader  *reader,
            void           *buffer,
            gsize           len)
{
  gsize done = 0;

  if (len > reader->size - reader->offset)
    return FALSE;
  while (done < len)
    {
      gssize n = pread (reader->fd, (guint8 *) buffer + done, len - done, reader->offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += n;
    }
  reader->offset += len;
  return TRUE;
}

static gboolean
read_u64 (JournalReader *reader,
          guint64       *value)
{
  guint64 le;

  if (!read_exact (reader, &le, sizeof le))
    return FALSE;
  *value = GUINT64_FROM_LE (le);
  return TRUE;
}

/* First pass: structure and checksum, touching nothing. */
static gboolean
verify_journal (JournalReader *reader,
                guint32       *out_state,
                guint64       *out_old_size,
                guint64       *out_new_size,
                const char   **out_why)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (JOURNAL_CHUNK);
  guint8 header[JOURNAL_HEADER_SIZE];
  guint8 stored[32], computed[32];
  gsize computed_len = sizeof computed;
  guint64 n_ranges, body_end;
  guint32 state;

  if (reader->size < JOURNAL_HEADER_SIZE + 32)
    return (*out_why = "too short", FALSE);
  body_end = reader->size - 32;

  if (!read_exact (reader, header, sizeof header) || memcmp (header, JOURNAL_MAGIC, 8) != 0)
    return (*out_why = "not a journal", FALSE);
  memcpy (&state, header + 8, 4);
  state = GUINT32_FROM_LE (state);
  memcpy (out_old_size, header + 16, 8);
  memcpy (out_new_size, header + 24, 8);
  memcpy (&n_ranges, header + 32, 8);
  *out_old_size = GUINT64_FROM_LE (*out_old_size);
  *out_new_size = GUINT64_FROM_LE (*out_new_size);
  n_ranges = GUINT64_FROM_LE (n_ranges);
  if (state != SAFETENSORS_JOURNAL_HOT && state != SAFETENSORS_JOURNAL_DONE)
    return (*out_why = "unknown state", FALSE);
  /* Sizes become off_t. */
  if (*out_old_size > G_MAXINT64 || *out_new_size > G_MAXINT64)
    return (*out_why = "file size out of range", FALSE);
  g_checksum_update (checksum, header, sizeof header);

  /* Walk the ranges: every length must stay inside the journal, and every
   * range inside the old file (a commit only saves bytes it had), so that
   * restoring cannot fail half-way on an impossible offset. */
  for (guint64 i = 0; i < n_ranges; i++)
    {
      guint64 range_header[2];
      guint64 start, len, end;

      if (reader->offset + 16 > body_end || !read_exact (reader, range_header, 16))
        return (*out_why = "truncated range", FALSE);
      g_checksum_update (checksum, (const guint8 *) range_header, 16);
      start = GUINT64_FROM_LE (range_header[0]);
      len = GUINT64_FROM_LE (range_header[1]);
      if (len > body_end - reader->offset)
        return (*out_why = "range longer than the journal", FALSE);
      if (!g_uint64_checked_add (&end, start, len) || end > *out_old_size)
        return (*out_why = "range outside the file", FALSE);
      while (len > 0)
        {
          gsize n = MIN (len, JOURNAL_CHUNK);

          if (!read_exact (reader, buffer, n))
            return (*out_why = "unreadable", FALSE);
          g_checksum_update (checksum, buffer, n);
          len -= n;
        }
    }

  if (reader->offset != body_end || !read_exact (reader, stored, sizeof stored))
    return (*out_why = "trailing bytes", FALSE);
  g_checksum_get_digest (checksum, computed, &computed_len);
  if (memcmp (stored, computed, sizeof stored) != 0)
    return (*out_why = "checksum mismatch", FALSE);

  *out_state = state;
  return TRUE;
}

static gboolean
restore_ranges (JournalReader  *reader,
                int             fd,
                const char     *display_name,
                GError        **error)
{
  g_autofree guint8 *buffer = g_malloc (JOURNAL_CHUNK);
  guint64 n_ranges;

  reader->offset = 32;
  if (!read_u64 (reader, &n_ranges))
    return FALSE;

  for (guint64 i = 0; i < n_ranges; i++)
    {
      guint64 start, len;

      if (!read_u64 (reader, &start) || !read_u64 (reader, &len))
        return FALSE;
      for (guint64 done = 0; done < len;)
        {
          gsize n = MIN (len - done, JOURNAL_CHUNK);

          if (!read_exact (reader, buffer, n) ||
              !safetensors_pwrite_all (fd, display_name, start + done, buffer, n, NULL, error))
            return FALSE;
          done += n;
        }
    }
  return TRUE;
}

gboolean
safetensors_journal_recover (const char  *journal_path,
                             int          fd,
                             const char  *display_name,
                             guint       *out_state,
                             GError     **error)
{
  g_autofree char *tmp_path = g_strconcat (journal_path, ".tmp", NULL);
  JournalReader reader = { -1, journal_path, 0, 0 };
  const char *why = NULL;
  guint64 old_size = 0, new_size = 0;
  guint32 state = 0;
  struct stat st;
  gboolean ok;

  *out_state = 0;

  /* A temporary journal never got installed: it protects nothing. */
  g_unlink (tmp_path);

  reader.fd = g_open (journal_path, O_RDONLY | O_CLOEXEC, 0);
  if (reader.fd < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      set_errno_error (error, errno, journal_path, "cannot open journal");
      return FALSE;
    }
  if (fstat (reader.fd, &st) != 0)
    {
      set_errno_error (error, errno, journal_path, "cannot read journal");
      close (reader.fd);
      return FALSE;
    }
  reader.size = st.st_size;

  if (!verify_journal (&reader, &state, &old_size, &new_size, &why))
    {
      close (reader.fd);
      return corrupt (error, journal_path, display_name, why);
    }

  if (state == SAFETENSORS_JOURNAL_HOT)
    {
      ok = restore_ranges (&reader, fd, display_name, error);
      if (ok && ftruncate (fd, (off_t) old_size) != 0)
        ok = (set_errno_error (error, errno, display_name, "cannot restore the size"), FALSE);
    }
  else
    {
      ok = ftruncate (fd, (off_t) new_size) == 0;
      if (!ok)
        set_errno_error (error, errno, display_name, "cannot finish the commit");
    }
  close (reader.fd);

  if (ok && fsync (fd) != 0)
    ok = (set_errno_error (error, errno, display_name, "cannot sync"), FALSE);
  if (!ok)
    {
      if (error != NULL && *error != NULL && (*error)->domain != SAFETENSORS_ERROR)
        g_prefix_error (error, "recovery from %s failed: ", journal_path);
      return FALSE;
    }

  *out_state = state;
  return safetensors_journal_remove (journal_path, error);
}
