/* safetensors-storage.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "safetensors-storage-private.h"

gpointer
safetensors_storage_alloc (gsize                          struct_size,
                           const SafetensorsStorageClass *klass,
                           const char                    *display_name,
                           guint64                        size)
{
  SafetensorsStorage *self;

  g_assert (struct_size >= sizeof (SafetensorsStorage));
  g_assert (klass != NULL && klass->read != NULL);

  self = g_atomic_rc_box_alloc0 (struct_size);
  self->klass = klass;
  self->display_name = g_strdup (display_name);
  self->size = size;

  return self;
}

SafetensorsStorage *
safetensors_storage_ref (SafetensorsStorage *self)
{
  return g_atomic_rc_box_acquire (self);
}

static void
storage_clear (gpointer data)
{
  SafetensorsStorage *self = data;

  if (self->klass->finalize != NULL)
    self->klass->finalize (self);
  g_free (self->display_name);
}

void
safetensors_storage_unref (SafetensorsStorage *self)
{
  g_atomic_rc_box_release_full (self, storage_clear);
}

const char *
safetensors_storage_get_display_name (SafetensorsStorage *self)
{
  return self->display_name;
}

guint64
safetensors_storage_get_size (SafetensorsStorage *self)
{
  return self->size;
}

gboolean
safetensors_storage_is_mapped (SafetensorsStorage *self)
{
  return self->klass->map_range != NULL;
}

static gboolean
check_range (SafetensorsStorage  *self,
             guint64              offset,
             guint64              len,
             GError             **error)
{
  if (offset > self->size || len > self->size - offset)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: range %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                   " lies past the end of the file (%" G_GUINT64_FORMAT " bytes)",
                   self->display_name, offset, len, self->size);
      return FALSE;
    }
  return TRUE;
}

gboolean
safetensors_storage_read (SafetensorsStorage  *self,
                          guint64              offset,
                          guint8              *buffer,
                          gsize                len,
                          GCancellable        *cancellable,
                          GError             **error)
{
  if (!check_range (self, offset, len, error))
    return FALSE;
  if (len == 0)
    return TRUE;
  return self->klass->read (self, offset, buffer, len, cancellable, error);
}

/* Large buffers are filled once, right away: aligning them to huge pages
 * and asking for those divides the page faults of touching fresh memory by
 * 512, which is most of the cost of reading a big tensor without mmap.
 * NULL rather than an abort when memory is short: a huge tensor read
 * without mmap is a recoverable error. */
static guint8 *
allocate_read_buffer (guint64 len)
{
  const gsize huge_page = 2 * 1024 * 1024;
  void *buffer = NULL;

  if (len > G_MAXSIZE)
    return NULL;
  if (len < 4 * huge_page)
    return malloc (MAX (len, 1));
  if (posix_memalign (&buffer, huge_page, len) != 0)
    return NULL;
#ifdef MADV_HUGEPAGE
  madvise (buffer, len, MADV_HUGEPAGE);
#endif
  return buffer;
}

GBytes *
safetensors_storage_get_bytes (SafetensorsStorage  *self,
                               guint64              offset,
                               guint64              len,
                               GCancellable        *cancellable,
                               GError             **error)
{
  g_autofree guint8 *buffer = NULL;

  if (!check_range (self, offset, len, error))
    return NULL;

  if (self->klass->map_range != NULL)
    {
      GBytes *bytes = self->klass->map_range (self, offset, len);

      if (bytes == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                     "%s: cannot map %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT,
                     self->display_name, len, offset);
      return bytes;
    }

  /* g_free() is free(), so posix_memalign() memory can go to GBytes. */
  buffer = allocate_read_buffer (len);
  if (buffer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s: cannot allocate %" G_GUINT64_FORMAT " bytes",
                   self->display_name, len);
      return NULL;
    }

  if (!safetensors_storage_read (self, offset, buffer, len, cancellable, error))
    return NULL;

  return g_bytes_new_take (g_steal_pointer (&buffer), len);
}

/* Local files get a descriptor of their own; the backends take ownership. */
SafetensorsStorage *
safetensors_storage_open (GFile         *file,
                          gboolean       use_mmap,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autofree char *path = g_file_get_path (file);
  g_autofree char *display_name = g_file_get_parse_name (file);
  SafetensorsStorage *storage;
  struct stat st;
  int fd;

  if (path == NULL)
    return safetensors_storage_stream_new (file, display_name, cancellable, error);

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: %s", display_name, g_strerror (saved_errno));
      return NULL;
    }

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: %s", display_name, g_strerror (saved_errno));
      close (fd);
      return NULL;
    }

  if (!S_ISREG (st.st_mode))
    {
      if (S_ISDIR (st.st_mode))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                     "%s: is a directory", display_name);
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                     "%s: not a regular file", display_name);
      close (fd);
      return NULL;
    }

  if (use_mmap && st.st_size > 0)
    {
      storage = safetensors_storage_mmap_new (fd, display_name, st.st_size, error);
      close (fd);
      return storage;
    }

  return safetensors_storage_fd_new (fd, display_name, st.st_size);
}
