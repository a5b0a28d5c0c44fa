/* safetensors-index.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>
#include <string.h>

#include "safetensors-error-private.h"
#include "safetensors-index.h"
#include "safetensors-index-private.h"

/**
 * SafetensorsIndex:
 *
 * The index of a sharded checkpoint: a `model.safetensors.index.json`
 * file as written by the Hugging Face libraries,
 *
 * ```json
 * {"metadata": {"total_size": 1234},
 *  "weight_map": {"embed.weight": "model-00001-of-00002.safetensors", …}}
 * ```
 *
 * naming, for every tensor, the shard file that holds it. Shards are
 * files in the folder of the index.
 *
 * [ctor@Safetensors.Index.open] reads the index and opens every shard,
 * and checks that they agree: each shard exists and is valid, each tensor
 * is in the shard the map names, no tensor is in two shards or in a shard
 * without being in the map, and `total_size`, when given, is the sum of
 * the tensors' sizes.
 *
 * Since: 1.0
 */

struct _SafetensorsIndex
{
  GObject     parent_instance;

  GFile      *file;
  char       *display_name;
  guint64     total_size;
  GHashTable *weight_map;   /* tensor name → shard name */
  GHashTable *shards;       /* shard name → SafetensorsFile */
  GHashTable *metadata;     /* key → value (JSON text unless a string) */
};

G_DEFINE_FINAL_TYPE (SafetensorsIndex, safetensors_index, G_TYPE_OBJECT)

static void
safetensors_index_finalize (GObject *object)
{
  SafetensorsIndex *self = SAFETENSORS_INDEX (object);

  g_clear_object (&self->file);
  g_free (self->display_name);
  g_clear_pointer (&self->weight_map, g_hash_table_unref);
  g_clear_pointer (&self->shards, g_hash_table_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);

  G_OBJECT_CLASS (safetensors_index_parent_class)->finalize (object);
}

static void
safetensors_index_class_init (SafetensorsIndexClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = safetensors_index_finalize;
}

static void
safetensors_index_init (SafetensorsIndex *self)
{
  self->weight_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->shards = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* Opens every shard the map names and checks that their tensors are the
 * map's. Returns the sum of the tensor sizes in @out_size. */
static gboolean
open_shards (SafetensorsIndex  *self,
             guint64           *out_size,
             GCancellable      *cancellable,
             GError           **error)
{
  g_autoptr(GFile) folder = g_file_get_parent (self->file);
  GHashTableIter iter;
  gpointer key, value;
  guint64 size = 0;

  g_hash_table_iter_init (&iter, self->weight_map);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(GFile) location = NULL;
      SafetensorsFile *shard;

      if (g_hash_table_contains (self->shards, value))
        continue;

      location = g_file_resolve_relative_path (folder, value);
      shard = safetensors_file_open (location, SAFETENSORS_OPEN_FLAGS_NONE, cancellable, error);
      if (shard == NULL)
        {
          g_prefix_error (error, "%s: shard “%s”: ", self->display_name, (const char *) value);
          return FALSE;
        }
      g_hash_table_insert (self->shards, g_strdup (value), shard);
    }

  /* Each tensor of each shard has to be mapped to that very shard: this
   * also finds a tensor stored in two shards. */
  g_hash_table_iter_init (&iter, self->shards);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_auto(GStrv) names = safetensors_file_get_tensor_names (value);

      for (guint i = 0; names[i] != NULL; i++)
        {
          const char *mapped = g_hash_table_lookup (self->weight_map, names[i]);
          g_autoptr(SafetensorsTensor) tensor = NULL;

          if (mapped == NULL)
            return safetensors_set_invalid_data_for (error, self->display_name,
                                                     "tensor “%s” of shard “%s” is not in the "
                                                     "weight map", names[i], (const char *) key);
          if (!g_str_equal (mapped, key))
            return safetensors_set_invalid_data_for (error, self->display_name,
                                                     "tensor “%s” is in shard “%s”, but the weight "
                                                     "map says “%s”", names[i], (const char *) key,
                                                     mapped);

          tensor = safetensors_file_lookup (value, names[i], NULL);
          size += safetensors_tensor_get_n_bytes (tensor);
        }
    }

  /* And every mapped tensor has to be in its shard. */
  g_hash_table_iter_init (&iter, self->weight_map);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!safetensors_file_contains (g_hash_table_lookup (self->shards, value), key))
      return safetensors_set_invalid_data_for (error, self->display_name,
                                               "tensor “%s” is not in shard “%s”",
                                               (const char *) key, (const char *) value);

  *out_size = size;
  return TRUE;
}

/**
 * safetensors_index_open: (constructor)
 * @file: a `.safetensors.index.json` file
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Reads the index of a sharded checkpoint, opens all its shards
 * read-only, and checks that index and shards agree (see
 * [class@Safetensors.Index]).
 *
 * Returns: (transfer full): the index, or %NULL with
 *   %SAFETENSORS_ERROR_INVALID_DATA for an index that is malformed or
 *   does not match its shards, or the error of a shard that cannot be
 *   opened
 *
 * Since: 1.0
 */
SafetensorsIndex *
safetensors_index_open (GFile         *file,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(SafetensorsIndex) self = NULL;
  g_autoptr(SafetensorsIndexContents) contents = NULL;
  g_autofree char *text = NULL;
  gboolean has_total_size;
  guint64 size = 0;
  gsize length = 0;

  g_return_val_if_fail (G_IS_FILE (file), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (SAFETENSORS_TYPE_INDEX, NULL);
  self->file = g_object_ref (file);
  self->display_name = g_file_get_parse_name (file);

  if (!g_file_load_contents (file, cancellable, &text, &length, NULL, error))
    return NULL;

  contents = safetensors_index_contents_parse (self->display_name, text, length, error);
  if (contents == NULL)
    return NULL;
  g_clear_pointer (&self->weight_map, g_hash_table_unref);
  g_clear_pointer (&self->metadata, g_hash_table_unref);
  self->weight_map = g_steal_pointer (&contents->weight_map);
  self->metadata = g_steal_pointer (&contents->metadata);
  self->total_size = contents->total_size;
  has_total_size = contents->has_total_size;

  if (!open_shards (self, &size, cancellable, error))
    return NULL;

  if (has_total_size && size != self->total_size)
    {
      safetensors_set_invalid_data_for (error, self->display_name,
                                        "“total_size” is %" G_GUINT64_FORMAT ", but the tensors "
                                        "take %" G_GUINT64_FORMAT " bytes", self->total_size, size);
      return NULL;
    }
  self->total_size = size;

  return g_steal_pointer (&self);
}

/**
 * safetensors_index_get_file:
 * @self: an index
 *
 * Gets the index file @self was opened from.
 *
 * Returns: (transfer none): the index file
 *
 * Since: 1.0
 */
GFile *
safetensors_index_get_file (SafetensorsIndex *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);

  return self->file;
}

/**
 * safetensors_index_get_total_size:
 * @self: an index
 *
 * Gets the size of the checkpoint's tensor data.
 *
 * Returns: the bytes of tensor data of all shards, which is also the
 *   index's `total_size` when it has one
 *
 * Since: 1.0
 */
guint64
safetensors_index_get_total_size (SafetensorsIndex *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), 0);

  return self->total_size;
}

static int
compare_strings (const void *a,
                 const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The keys of @table, copied and sorted bytewise. */
static char **
sorted_keys (GHashTable *table)
{
  guint n = 0;
  char **keys = (char **) g_hash_table_get_keys_as_array (table, &n);

  for (guint i = 0; i < n; i++)
    keys[i] = g_strdup (keys[i]);
  qsort (keys, n, sizeof (char *), compare_strings);
  return keys;
}

/**
 * safetensors_index_get_tensor_names:
 * @self: an index
 *
 * Lists the tensors of all shards.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of all
 *   the tensors of the checkpoint, sorted bytewise
 *
 * Since: 1.0
 */
char **
safetensors_index_get_tensor_names (SafetensorsIndex *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);

  return sorted_keys (self->weight_map);
}

/**
 * safetensors_index_get_shard_names:
 * @self: an index
 *
 * Lists the shards.
 *
 * Returns: (transfer full) (array zero-terminated=1): the shard file
 *   names, relative to the index's folder, sorted bytewise
 *
 * Since: 1.0
 */
char **
safetensors_index_get_shard_names (SafetensorsIndex *self)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);

  return sorted_keys (self->shards);
}

/**
 * safetensors_index_get_shard_name:
 * @self: an index
 * @tensor_name: a tensor name
 *
 * Finds which shard holds a tensor.
 *
 * Returns: (nullable): the name of the shard holding @tensor_name, or
 *   %NULL if the checkpoint has no such tensor
 *
 * Since: 1.0
 */
const char *
safetensors_index_get_shard_name (SafetensorsIndex *self,
                                  const char       *tensor_name)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);
  g_return_val_if_fail (tensor_name != NULL, NULL);

  return g_hash_table_lookup (self->weight_map, tensor_name);
}

/**
 * safetensors_index_get_shard:
 * @self: an index
 * @shard_name: a name from [method@Safetensors.Index.get_shard_names]
 *
 * Gets one of the shards, opened read-only.
 *
 * Returns: (transfer none) (nullable): the opened shard, or %NULL if the
 *   index has no shard of that name
 *
 * Since: 1.0
 */
SafetensorsFile *
safetensors_index_get_shard (SafetensorsIndex *self,
                             const char       *shard_name)
{
  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);
  g_return_val_if_fail (shard_name != NULL, NULL);

  return g_hash_table_lookup (self->shards, shard_name);
}

/**
 * safetensors_index_lookup:
 * @self: an index
 * @tensor_name: a tensor name
 * @error: return location for a #GError
 *
 * Finds a tensor in the shard that holds it.
 *
 * Returns: (transfer full): the tensor, or %NULL with
 *   %SAFETENSORS_ERROR_TENSOR_NOT_FOUND
 *
 * Since: 1.0
 */
SafetensorsTensor *
safetensors_index_lookup (SafetensorsIndex  *self,
                          const char        *tensor_name,
                          GError           **error)
{
  const char *shard_name;

  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);
  g_return_val_if_fail (tensor_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  shard_name = g_hash_table_lookup (self->weight_map, tensor_name);
  if (shard_name == NULL)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
                   "%s: no tensor “%s”", self->display_name, tensor_name);
      return NULL;
    }

  return safetensors_file_lookup (g_hash_table_lookup (self->shards, shard_name),
                                  tensor_name, error);
}

/**
 * safetensors_index_get_metadata:
 * @self: an index
 *
 * The index's `metadata` object. String values are given as they are,
 * other values (such as `total_size`) as JSON text.
 *
 * Returns: (transfer container) (element-type utf8 utf8): the metadata
 *
 * Since: 1.0
 */
GHashTable *
safetensors_index_get_metadata (SafetensorsIndex *self)
{
  GHashTable *copy;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (SAFETENSORS_IS_INDEX (self), NULL);

  /* Keys and values stay owned by @self, as the container annotation
   * says. */
  copy = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_iter_init (&iter, self->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (copy, key, value);
  return copy;
}
