/* safetensors-storage-mmap.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "safetensors-mapping-private.h"
#include "safetensors-storage-private.h"

/* The whole file is mapped once, shared and read-only. The mapping is owned
 * by a GBytes so that every tensor's zero-copy slice keeps it alive on its
 * own, whatever happens to the file object. */
typedef struct
{
  SafetensorsStorage parent;
  GBytes *mapping;
} MmapStorage;


static void
mmap_storage_finalize (SafetensorsStorage *storage)
{
  MmapStorage *self = (MmapStorage *) storage;

  g_clear_pointer (&self->mapping, g_bytes_unref);
}

static gboolean
mmap_storage_read (SafetensorsStorage  *storage,
                   guint64              offset,
                   guint8              *buffer,
                   gsize                len,
                   GCancellable        *cancellable,
                   GError             **error)
{
  MmapStorage *self = (MmapStorage *) storage;
  const guint8 *data = g_bytes_get_data (self->mapping, NULL);

  memcpy (buffer, data + offset, len);
  return TRUE;
}

static GBytes *
mmap_storage_map_range (SafetensorsStorage *storage,
                        guint64             offset,
                        guint64             len)
{
  MmapStorage *self = (MmapStorage *) storage;

  return g_bytes_new_from_bytes (self->mapping, offset, len);
}

static const SafetensorsStorageClass mmap_storage_class = {
  .finalize = mmap_storage_finalize,
  .read = mmap_storage_read,
  .map_range = mmap_storage_map_range,
};

SafetensorsStorage *
safetensors_storage_mmap_new (int          fd,
                              const char  *display_name,
                              guint64      size,
                              GError     **error)
{
  MmapStorage *self;
  SafetensorsMapping *mapping;

  g_assert (size > 0);

  if (size > G_MAXSIZE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: file too large to map", display_name);
      return NULL;
    }

  mapping = safetensors_mapping_new (fd, 0, size, PROT_READ);
  if (mapping == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "%s: cannot map file: %s", display_name, g_strerror (saved_errno));
      return NULL;
    }

  self = safetensors_storage_alloc (sizeof *self, &mmap_storage_class, display_name, size);
  self->mapping = g_bytes_new_with_free_func (mapping->addr, size, safetensors_mapping_free, mapping);

  return &self->parent;
}
