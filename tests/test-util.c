/* test-util.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>

#include "test-util.h"

const char *test_backend_names[3] = { "mmap", "pread", "stream" };

static char *tmpdir;
static guint file_counter;

static void
remove_tmpdir (void)
{
  g_autoptr(GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (tmpdir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (tmpdir);
}

const char *
test_tmpdir (void)
{
  if (tmpdir == NULL)
    {
      g_autoptr(GError) error = NULL;

      tmpdir = g_dir_make_tmp ("safetensors-test-XXXXXX", &error);
      g_assert_no_error (error);
      atexit (remove_tmpdir);
    }
  return tmpdir;
}

char *
test_write_raw (const void *bytes,
                gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("file-%u.safetensors", ++file_counter);
  char *path = g_build_filename (test_tmpdir (), name, NULL);

  g_file_set_contents (path, bytes, len, &error);
  g_assert_no_error (error);
  return path;
}

char *
test_write_safetensors (const char *json,
                        guint       pad_spaces,
                        const void *data,
                        gsize       data_len)
{
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  guint64 n = strlen (json) + pad_spaces;
  guint8 prefix[8];

  for (guint i = 0; i < 8; i++)
    prefix[i] = (n >> (8 * i)) & 0xff;
  g_byte_array_append (buf, prefix, 8);
  g_byte_array_append (buf, (const guint8 *) json, strlen (json));
  for (guint i = 0; i < pad_spaces; i++)
    g_byte_array_append (buf, (const guint8 *) " ", 1);
  if (data_len > 0)
    g_byte_array_append (buf, data, data_len);

  return test_write_raw (buf->data, buf->len);
}

/* ---- a GFile with no local path ------------------------------------------ */

/* Forwards to a local file but hides its path, like a GVfs or resource
 * file would, which is how the stream backend is reached. */
#define TEST_TYPE_REMOTE_FILE (test_remote_file_get_type ())
G_DECLARE_FINAL_TYPE (TestRemoteFile, test_remote_file, TEST, REMOTE_FILE, GObject)

struct _TestRemoteFile
{
  GObject parent_instance;
  GFile *local;
};

static void test_remote_file_iface_init (GFileIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestRemoteFile, test_remote_file, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_FILE, test_remote_file_iface_init))

static GFile *
test_remote_file_new (GFile *local)
{
  TestRemoteFile *self = g_object_new (TEST_TYPE_REMOTE_FILE, NULL);

  self->local = g_object_ref (local);
  return G_FILE (self);
}

static void
test_remote_file_finalize (GObject *object)
{
  g_clear_object (&TEST_REMOTE_FILE (object)->local);
  G_OBJECT_CLASS (test_remote_file_parent_class)->finalize (object);
}

static void
test_remote_file_class_init (TestRemoteFileClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_remote_file_finalize;
}

static void
test_remote_file_init (TestRemoteFile *self)
{
}

static GFile *
remote_dup (GFile *file)
{
  return test_remote_file_new (TEST_REMOTE_FILE (file)->local);
}

static guint
remote_hash (GFile *file)
{
  return g_file_hash (TEST_REMOTE_FILE (file)->local);
}

static gboolean
remote_equal (GFile *a,
              GFile *b)
{
  return TEST_IS_REMOTE_FILE (b) &&
         g_file_equal (TEST_REMOTE_FILE (a)->local, TEST_REMOTE_FILE (b)->local);
}

static gboolean
remote_is_native (GFile *file)
{
  return FALSE;
}

static char *
remote_get_path (GFile *file)
{
  return NULL;
}

static char *
remote_get_uri (GFile *file)
{
  g_autofree char *path = g_file_get_path (TEST_REMOTE_FILE (file)->local);

  return g_strconcat ("test-remote://", path, NULL);
}

static char *
remote_get_parse_name (GFile *file)
{
  return remote_get_uri (file);
}

static char *
remote_get_uri_scheme (GFile *file)
{
  return g_strdup ("test-remote");
}

static GFileInputStream *
remote_read (GFile         *file,
             GCancellable  *cancellable,
             GError       **error)
{
  return g_file_read (TEST_REMOTE_FILE (file)->local, cancellable, error);
}

static void
test_remote_file_iface_init (GFileIface *iface)
{
  iface->dup = remote_dup;
  iface->hash = remote_hash;
  iface->equal = remote_equal;
  iface->is_native = remote_is_native;
  iface->get_path = remote_get_path;
  iface->get_uri = remote_get_uri;
  iface->get_parse_name = remote_get_parse_name;
  iface->get_uri_scheme = remote_get_uri_scheme;
  iface->read_fn = remote_read;
}

GFile *
test_file_for_backend (const char  *path,
                       TestBackend  backend)
{
  g_autoptr(GFile) local = g_file_new_for_path (path);

  if (backend == TEST_BACKEND_STREAM)
    return test_remote_file_new (local);
  return g_steal_pointer (&local);
}

SafetensorsFile *
test_open (const char   *path,
           TestBackend   backend,
           GError      **error)
{
  g_autoptr(GFile) file = test_file_for_backend (path, backend);
  SafetensorsOpenFlags flags = backend == TEST_BACKEND_PREAD ? SAFETENSORS_OPEN_FLAGS_NO_MMAP
                                                             : SAFETENSORS_OPEN_FLAGS_NONE;

  return safetensors_file_open (file, flags, NULL, error);
}
