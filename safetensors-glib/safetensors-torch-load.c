/* safetensors-torch-load.c — reading PyTorch checkpoints: the zip format
 * (torch ≥ 1.6) and the legacy pickle stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>

#include "safetensors-error.h"
#include "safetensors-torch-private.h"
#include "safetensors-zip-private.h"

/* pickle.dumps (0x1950a86a20f9469cfc6c): the legacy format's first
 * pickle, as LONG1's little-endian bytes. */
static const guint8 legacy_magic[] = {
  0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19
};
#define LEGACY_PROTOCOL_VERSION 1001

typedef struct
{
  guint64              offset;     /* in the mapped file */
  guint64              n_bytes;
  const SafetensorsZipEntry *entry; /* zip archives */
  GMappedFile         *inflated;   /* a deflated entry, inflated */
} StorageRegion;

struct _SafetensorsTorchCheckpoint
{
  char                    *display_name;
  GMappedFile             *mapping;
  int                      fd;         /* of the mapped file, for kernel copies */
  const guint8            *data;
  guint64                  size;
  SafetensorsTorchFormat   format;
  SafetensorsZip          *zip;
  char                    *prefix;     /* the archive's folder */
  gboolean                 big_endian;
  SafetensorsPickle       *pickle;
  SafetensorsPickleObject *root;
  GHashTable              *regions;    /* storage key → StorageRegion* */
};

static void
region_free (gpointer data)
{
  StorageRegion *region = data;

  g_clear_pointer (&region->inflated, g_mapped_file_unref);
  g_free (region);
}

void
safetensors_torch_checkpoint_free (SafetensorsTorchCheckpoint *self)
{
  if (self == NULL)
    return;

  g_clear_pointer (&self->regions, g_hash_table_unref);
  g_clear_pointer (&self->pickle, safetensors_pickle_free);
  g_clear_pointer (&self->zip, safetensors_zip_free);
  g_clear_pointer (&self->mapping, g_mapped_file_unref);
  if (self->fd >= 0)
    close (self->fd);
  g_free (self->prefix);
  g_free (self->display_name);
  g_free (self);
}

static void
set_error (SafetensorsTorchCheckpoint  *self,
           GError                     **error,
           int                          code,
           const char                  *format,
           ...) G_GNUC_PRINTF (4, 5);

static void
set_error (SafetensorsTorchCheckpoint  *self,
           GError                     **error,
           int                          code,
           const char                  *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, SAFETENSORS_ERROR, code, "%s: %s", self->display_name, message);
}

/* A temporary file, already unlinked: it disappears with its last
 * descriptor or mapping. */
static int
open_anonymous_file (GError **error)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("safetensors-torch-XXXXXX", &path, NULL);

  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create a temporary file: %s", g_strerror (saved_errno));
      return -1;
    }
  g_unlink (path);
  return fd;
}

static GMappedFile *
map_fd (int      fd,
        GError **error)
{
  g_autoptr(GError) local_error = NULL;
  GMappedFile *mapping;
  struct stat st;

  if (fstat (fd, &st) == 0 && !S_ISREG (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR,
                   S_ISDIR (st.st_mode) ? G_IO_ERROR_IS_DIRECTORY : G_IO_ERROR_NOT_REGULAR_FILE,
                   S_ISDIR (st.st_mode) ? "is a folder, not a checkpoint" : "not a regular file");
      return NULL;
    }

  mapping = g_mapped_file_new_from_fd (fd, FALSE, &local_error);
  if (mapping == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot map the file: %s",
                 local_error->message);
  return mapping;
}

/* Maps @file: directly when it is a local regular file, else (a remote
 * file, a pipe) through a temporary copy. */
static gboolean
map_input (SafetensorsTorchCheckpoint  *self,
           GFile                       *file,
           GCancellable                *cancellable,
           GError                     **error)
{
  g_autoptr(GFileInputStream) stream = NULL;
  g_autofree char *path = g_file_get_path (file);
  struct stat st;
  int fd;

  /* Pipes and other special files are read through a copy, like remote
   * files: only regular files can be mapped. */
  if (path != NULL && (g_stat (path, &st) != 0 || S_ISREG (st.st_mode) || S_ISDIR (st.st_mode)))
    {
      /* open() rather than g_file_read(), whose messages repeat the path. */
      self->fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
      if (self->fd < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s",
                       self->display_name, g_strerror (saved_errno));
          return FALSE;
        }
      self->mapping = map_fd (self->fd, error);
    }
  else
    {
      g_autoptr(GOutputStream) copy = NULL;

      stream = g_file_read (file, cancellable, error);
      if (stream == NULL)
        {
          g_prefix_error (error, "%s: ", self->display_name);
          return FALSE;
        }
      fd = open_anonymous_file (error);
      if (fd < 0)
        return FALSE;
      copy = g_unix_output_stream_new (fd, TRUE);
      if (g_output_stream_splice (copy, G_INPUT_STREAM (stream),
                                  G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, cancellable, error) < 0)
        {
          g_prefix_error (error, "%s: ", self->display_name);
          return FALSE;
        }
      self->mapping = map_fd (fd, error);
      self->fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    }

  if (self->mapping == NULL)
    {
      g_prefix_error (error, "%s: ", self->display_name);
      return FALSE;
    }
  self->data = (const guint8 *) g_mapped_file_get_contents (self->mapping);
  self->size = g_mapped_file_get_length (self->mapping);
  return TRUE;
}

static gboolean
load_pickle (SafetensorsTorchCheckpoint  *self,
             const char                  *what,
             const guint8                *data,
             gsize                        len,
             gsize                       *out_consumed,
             SafetensorsPickleObject    **out_object,
             GError                     **error)
{
  *out_object = safetensors_pickle_load (self->pickle, data, len, out_consumed, error);
  if (*out_object == NULL)
    {
      g_prefix_error (error, "%s: %s: ", self->display_name, what);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The zip format                                                     */
/* ------------------------------------------------------------------ */

static const SafetensorsZipEntry *
lookup_record (SafetensorsTorchCheckpoint *self,
               const char                 *record)
{
  g_autofree char *name = g_strconcat (self->prefix, "/", record, NULL);

  return safetensors_zip_lookup (self->zip, name);
}

static gboolean
open_zip (SafetensorsTorchCheckpoint  *self,
          GCancellable                *cancellable,
          GError                     **error)
{
  const SafetensorsZipEntry *entry;
  const char *first;
  const char *slash;
  g_autoptr(GBytes) pickle = NULL;
  gsize consumed = 0;

  self->format = SAFETENSORS_TORCH_FORMAT_ZIP;
  self->zip = safetensors_zip_open (self->data, self->size, error);
  if (self->zip == NULL)
    {
      g_prefix_error (error, "%s: ", self->display_name);
      return FALSE;
    }

  /* Every record lives in one folder, named after the file or
   * “archive”: the first entry tells which. */
  if (safetensors_zip_get_n_entries (self->zip) == 0)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, "the archive is empty");
      return FALSE;
    }
  first = safetensors_zip_get_entry (self->zip, 0)->name;
  slash = strchr (first, '/');
  if (slash == NULL)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "entry “%s” is not in a folder: not a torch.save () archive", first);
      return FALSE;
    }
  self->prefix = g_strndup (first, slash - first);
  for (guint i = 0; i < safetensors_zip_get_n_entries (self->zip); i++)
    {
      const char *name = safetensors_zip_get_entry (self->zip, i)->name;

      if (!g_str_has_prefix (name, self->prefix) || name[strlen (self->prefix)] != '/')
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "entry “%s” is outside the archive's folder “%s”", name, self->prefix);
          return FALSE;
        }
    }

  if (lookup_record (self, "constants.pkl") != NULL)
    {
      set_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED,
                 "this is a TorchScript archive (torch.jit.save), not a checkpoint");
      return FALSE;
    }

  entry = lookup_record (self, "byteorder");
  if (entry != NULL)
    {
      g_autoptr(GBytes) bytes = safetensors_zip_read (self->zip, entry, 16, cancellable, error);
      g_autofree char *text = NULL;

      if (bytes == NULL)
        {
          g_prefix_error (error, "%s: ", self->display_name);
          return FALSE;
        }
      text = g_strstrip (g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes)));
      if (g_str_equal (text, "big"))
        self->big_endian = TRUE;
      else if (!g_str_equal (text, "little"))
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "the byteorder record says neither “little” nor “big”");
          return FALSE;
        }
    }

  entry = lookup_record (self, "data.pkl");
  if (entry == NULL)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "the archive has no %s/data.pkl: not a torch.save () archive", self->prefix);
      return FALSE;
    }
  pickle = safetensors_zip_read (self->zip, entry, SAFETENSORS_TORCH_MAX_PICKLE_SIZE,
                                 cancellable, error);
  if (pickle == NULL)
    {
      g_prefix_error (error, "%s: ", self->display_name);
      return FALSE;
    }

  self->pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_ZIP);
  return load_pickle (self, "data.pkl", g_bytes_get_data (pickle, NULL), g_bytes_get_size (pickle),
                      &consumed, &self->root, error);
}

/* ------------------------------------------------------------------ */
/* The legacy format                                                  */
/* ------------------------------------------------------------------ */

static gboolean
read_legacy_storages (SafetensorsTorchCheckpoint  *self,
                      SafetensorsPickleObject     *keys,
                      guint64                      pos,
                      GError                     **error)
{
  GHashTable *storages = safetensors_pickle_get_storages (self->pickle);

  if (keys->type != SAFETENSORS_PICKLE_LIST)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "the list of storage keys is a %s", safetensors_pickle_object_type_name (keys));
      return FALSE;
    }

  /* Then each storage: its element count (8 bytes, little-endian) and
   * its bytes, in the order of the list. */
  for (guint i = 0; i < keys->seq.len; i++)
    {
      SafetensorsPickleObject *key = keys->seq.items[i];
      SafetensorsPickleStorage *storage;
      StorageRegion *region;
      guint64 numel = 0, n_bytes;

      if (key->type != SAFETENSORS_PICKLE_STR)
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, "a storage key is a %s",
                     safetensors_pickle_object_type_name (key));
          return FALSE;
        }
      storage = g_hash_table_lookup (storages, key->str.data);
      if (storage == NULL)
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "storage “%.64s” is listed but no tensor refers to it", key->str.data);
          return FALSE;
        }
      if (g_hash_table_contains (self->regions, storage->key))
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "storage “%s” is listed twice", storage->key);
          return FALSE;
        }
      if (self->size - pos < 8)
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "the file ends before storage “%s”", storage->key);
          return FALSE;
        }
      for (guint b = 0; b < 8; b++)
        numel |= (guint64) self->data[pos + b] << (8 * b);
      pos += 8;
      if (!g_uint64_checked_mul (&n_bytes, numel, safetensors_torch_dtype_get_itemsize (storage->dtype)) ||
          n_bytes != storage->n_bytes)
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "storage “%s” holds %" G_GUINT64_FORMAT " elements, but the pickle says %"
                     G_GUINT64_FORMAT, storage->key, numel, storage->numel);
          return FALSE;
        }
      if (self->size - pos < n_bytes)
        {
          set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                     "storage “%s” runs past the end of the file", storage->key);
          return FALSE;
        }
      region = g_new0 (StorageRegion, 1);
      region->offset = pos;
      region->n_bytes = n_bytes;
      g_hash_table_insert (self->regions, storage->key, region);
      pos += n_bytes;
    }

  return TRUE;
}

static gboolean
open_legacy (SafetensorsTorchCheckpoint  *self,
             GError                     **error)
{
  SafetensorsPickleObject *magic, *version, *sys_info, *keys, *little_endian;
  gsize limit = MIN (self->size, SAFETENSORS_TORCH_MAX_PICKLE_SIZE);
  gsize pos = 0, n = 0;

  self->format = SAFETENSORS_TORCH_FORMAT_LEGACY;
  self->pickle = safetensors_pickle_new (SAFETENSORS_PICKLE_PID_LEGACY);

  if (!load_pickle (self, "magic number", self->data, limit, &n, &magic, error))
    return FALSE;
  pos += n;
  if (magic->type != SAFETENSORS_PICKLE_BIGINT || magic->str.len != sizeof legacy_magic ||
      memcmp (magic->str.data, legacy_magic, sizeof legacy_magic) != 0)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "not a PyTorch checkpoint: a pickle without the legacy magic number");
      return FALSE;
    }

  if (!load_pickle (self, "protocol version", self->data + pos, limit - pos, &n, &version, error))
    return FALSE;
  pos += n;
  if (version->type != SAFETENSORS_PICKLE_INT || version->integer != LEGACY_PROTOCOL_VERSION)
    {
      set_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED,
                 "legacy protocol version %s is not supported (only %d)",
                 version->type == SAFETENSORS_PICKLE_INT ? "other than 1001" : "of a wrong type",
                 LEGACY_PROTOCOL_VERSION);
      return FALSE;
    }

  if (!load_pickle (self, "system information", self->data + pos, limit - pos, &n, &sys_info, error))
    return FALSE;
  pos += n;
  little_endian = sys_info->type == SAFETENSORS_PICKLE_DICT ?
                  safetensors_pickle_dict_lookup_string (sys_info, "little_endian") : NULL;
  if (little_endian == NULL || little_endian->type != SAFETENSORS_PICKLE_BOOL)
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "the system information does not say whether the file is little-endian");
      return FALSE;
    }
  if (!little_endian->boolean)
    {
      set_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED,
                 "big-endian legacy checkpoints are not supported");
      return FALSE;
    }

  if (!load_pickle (self, "object", self->data + pos, limit - pos, &n, &self->root, error))
    return FALSE;
  pos += n;
  if (!load_pickle (self, "storage keys", self->data + pos, limit - pos, &n, &keys, error))
    return FALSE;
  pos += n;

  return read_legacy_storages (self, keys, pos, error);
}

SafetensorsTorchCheckpoint *
safetensors_torch_checkpoint_open (GFile         *file,
                                   GCancellable  *cancellable,
                                   GError       **error)
{
  g_autoptr(SafetensorsTorchCheckpoint) self = g_new0 (SafetensorsTorchCheckpoint, 1);

  self->fd = -1;
  self->display_name = g_file_get_parse_name (file);
  self->regions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, region_free);

  if (!map_input (self, file, cancellable, error))
    return NULL;

  if (safetensors_zip_has_magic (self->data, self->size))
    {
      if (!open_zip (self, cancellable, error))
        return NULL;
    }
  else if (self->size >= 512 && memcmp (self->data + 257, "ustar", 5) == 0)
    {
      set_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED,
                 "the tar format of PyTorch before 0.1.10 is not supported");
      return NULL;
    }
  else if (self->size >= 2 && self->data[0] == 0x80)
    {
      if (!open_legacy (self, error))
        return NULL;
    }
  else
    {
      set_error (self, error, SAFETENSORS_ERROR_INVALID_DATA,
                 "not a PyTorch checkpoint: neither a zip archive nor a pickle");
      return NULL;
    }

  return g_steal_pointer (&self);
}

const char *
safetensors_torch_checkpoint_get_display_name (SafetensorsTorchCheckpoint *self)
{
  return self->display_name;
}

SafetensorsTorchFormat
safetensors_torch_checkpoint_get_format (SafetensorsTorchCheckpoint *self)
{
  return self->format;
}

guint64
safetensors_torch_checkpoint_get_size (SafetensorsTorchCheckpoint *self)
{
  return self->size;
}

gboolean
safetensors_torch_checkpoint_is_big_endian (SafetensorsTorchCheckpoint *self)
{
  return self->big_endian;
}

SafetensorsPickleObject *
safetensors_torch_checkpoint_get_root (SafetensorsTorchCheckpoint *self)
{
  return self->root;
}

/* ------------------------------------------------------------------ */
/* Storage data                                                       */
/* ------------------------------------------------------------------ */

gboolean
safetensors_torch_checkpoint_check_storage (SafetensorsTorchCheckpoint  *self,
                                            SafetensorsPickleStorage    *storage,
                                            GError                     **error)
{
  const SafetensorsZipEntry *entry;
  StorageRegion *region = g_hash_table_lookup (self->regions, storage->key);
  g_autofree char *record = NULL;

  if (region != NULL)
    return TRUE;

  if (self->format == SAFETENSORS_TORCH_FORMAT_LEGACY)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "its storage “%s” is not in the file", storage->key);
      return FALSE;
    }

  record = g_strconcat ("data/", storage->key, NULL);
  entry = lookup_record (self, record);
  if (entry == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "its storage has no entry %s/%s", self->prefix, record);
      return FALSE;
    }
  if (entry->uncompressed_size != storage->n_bytes)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "its storage %s holds %" G_GUINT64_FORMAT " bytes, but %" G_GUINT64_FORMAT
                   " elements of %s take %" G_GUINT64_FORMAT, entry->name,
                   entry->uncompressed_size, storage->numel,
                   safetensors_torch_dtype_get_name (storage->dtype), storage->n_bytes);
      return FALSE;
    }

  region = g_new0 (StorageRegion, 1);
  region->entry = entry;
  region->offset = entry->data_offset;
  region->n_bytes = storage->n_bytes;
  g_hash_table_insert (self->regions, storage->key, region);
  return TRUE;
}

const guint8 *
safetensors_torch_checkpoint_map_storage (SafetensorsTorchCheckpoint  *self,
                                          SafetensorsPickleStorage    *storage,
                                          GCancellable                *cancellable,
                                          GError                     **error)
{
  static const guint8 empty[16];
  StorageRegion *region = g_hash_table_lookup (self->regions, storage->key);
  int fd;

  g_assert (region != NULL);

  if (region->n_bytes == 0)
    return empty;

  if (region->entry == NULL || region->entry->method == SAFETENSORS_ZIP_METHOD_STORED)
    return self->data + region->offset;

  /* Deflated: inflate once into an anonymous temporary file, so that
   * strided reads stay cheap and memory does not grow with the size. */
  if (region->inflated == NULL)
    {
      fd = open_anonymous_file (error);
      if (fd < 0)
        return NULL;
      if (!safetensors_zip_extract_to_fd (self->zip, region->entry, fd, cancellable, error))
        {
          close (fd);
          return NULL;
        }
      region->inflated = map_fd (fd, error);
      close (fd);
      if (region->inflated == NULL)
        return NULL;
    }

  return (const guint8 *) g_mapped_file_get_contents (region->inflated);
}

int
safetensors_torch_checkpoint_get_storage_fd (SafetensorsTorchCheckpoint *self,
                                             SafetensorsPickleStorage   *storage,
                                             guint64                    *out_offset)
{
  StorageRegion *region = g_hash_table_lookup (self->regions, storage->key);

  g_assert (region != NULL);

  if (self->fd < 0 ||
      (region->entry != NULL && region->entry->method != SAFETENSORS_ZIP_METHOD_STORED))
    return -1;
  *out_offset = region->offset;
  return self->fd;
}

void
safetensors_torch_checkpoint_release_storage (SafetensorsTorchCheckpoint *self,
                                              SafetensorsPickleStorage   *storage)
{
  StorageRegion *region = g_hash_table_lookup (self->regions, storage->key);
  gsize page = sysconf (_SC_PAGESIZE);
  guintptr start, end;

  if (region == NULL || region->n_bytes == 0)
    return;

  if (region->inflated != NULL)
    {
      g_clear_pointer (&region->inflated, g_mapped_file_unref);
      return;
    }
  if (region->entry != NULL && region->entry->method != SAFETENSORS_ZIP_METHOD_STORED)
    return;

  /* Clean pages of a read-only mapping: dropping them only means they
   * are read again if needed. Keeps the resident size bounded. */
  start = ((guintptr) (self->data + region->offset) + page - 1) / page * page;
  end = (guintptr) (self->data + region->offset + region->n_bytes) / page * page;
  if (end > start)
    madvise ((void *) start, end - start, MADV_DONTNEED);
}
