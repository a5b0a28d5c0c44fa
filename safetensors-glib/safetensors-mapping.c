/* safetensors-mapping.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors-mapping-private.h"

/* All mappings of the process, under one lock: they are few (one per file
 * read, one per tensor viewed in an edited file) and shrinks are rare. */
G_LOCK_DEFINE_STATIC (registry);
static GList *registry_list;

static gsize
page_size (void)
{
  static gsize size;

  if (size == 0)
    size = sysconf (_SC_PAGESIZE);
  return size;
}

SafetensorsMapping *
safetensors_mapping_new (int     fd,
                         guint64 offset,
                         guint64 len,
                         int     prot)
{
  SafetensorsMapping *mapping;
  guint64 start = offset / page_size () * page_size ();
  struct stat st;
  void *addr;

  if (fstat (fd, &st) != 0 || len > G_MAXSIZE - (offset - start))
    return NULL;

  addr = mmap (NULL, (offset - start) + len, prot, MAP_SHARED, fd, (off_t) start);
  if (addr == MAP_FAILED)
    return NULL;

  mapping = g_new0 (SafetensorsMapping, 1);
  mapping->dev = st.st_dev;
  mapping->ino = st.st_ino;
  mapping->addr = addr;
  mapping->len = (offset - start) + len;
  mapping->file_offset = start;

  G_LOCK (registry);
  registry_list = g_list_prepend (registry_list, mapping);
  G_UNLOCK (registry);

  return mapping;
}

void
safetensors_mapping_free (gpointer data)
{
  SafetensorsMapping *mapping = data;

  G_LOCK (registry);
  registry_list = g_list_remove (registry_list, mapping);
  G_UNLOCK (registry);

  munmap (mapping->addr, mapping->len);
  g_free (mapping);
}

void
safetensors_mappings_detach_beyond (dev_t   dev,
                                    ino_t   ino,
                                    guint64 size)
{
  guint64 cut = (size + page_size () - 1) / page_size () * page_size ();

  G_LOCK (registry);
  for (GList *l = registry_list; l != NULL; l = l->next)
    {
      SafetensorsMapping *mapping = l->data;
      guint64 end = mapping->file_offset + mapping->len;
      guint64 from;

      if (mapping->dev != dev || mapping->ino != ino || end <= cut)
        continue;
      from = MAX (cut, mapping->file_offset);
      /* Private zero pages in place of the part that is about to go. */
      if (mmap (mapping->addr + (from - mapping->file_offset), end - from,
                PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        g_debug ("cannot detach a stale view: %s", g_strerror (errno));
    }
  G_UNLOCK (registry);
}
