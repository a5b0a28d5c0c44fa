/* safetensors-torch-plan.c — what a PyTorch import writes: selection,
 * flattening, shared tensors, bounds checks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "safetensors-error.h"
#include "safetensors-header-writer-private.h"
#include "safetensors-torch-private.h"

/* One tensor of the output, and every name that views exactly it. */
typedef struct
{
  SafetensorsPickleTensor *tensor;
  GPtrArray               *names;       /* char*, owned */
  SafetensorsDType         dtype;
  guint64                  n_bytes;
  gboolean                 contiguous;
} Group;

typedef struct
{
  SafetensorsTorchCheckpoint  *checkpoint;
  const char                  *display_name;
  SafetensorsImportFlags       flags;
  GHashTable                  *visited;      /* container → name where first seen (owned) */
  GHashTable                  *on_path;      /* containers being walked */
  GHashTable                  *by_identity;  /* "storage|dtype|offset|size|stride" → Group* */
  GHashTable                  *names;        /* name → Group*, or the plan's extras array */
  GPtrArray                   *groups;
  SafetensorsTorchPlan        *plan;
  guint64                      output_limit;
  gsize                        extras_size;
  guint64                      names_size;
} Flattener;

static void
group_free (gpointer data)
{
  Group *group = data;

  g_ptr_array_unref (group->names);
  g_free (group);
}

static void
plan_tensor_free (gpointer data)
{
  SafetensorsTorchPlanTensor *tensor = data;

  safetensors_tensor_info_free (tensor->info);
  g_free (tensor);
}

static void
extra_free (gpointer data)
{
  SafetensorsTorchExtra *extra = data;

  g_free (extra->name);
  g_free (extra->reason);
  g_free (extra);
}

void
safetensors_torch_plan_free (SafetensorsTorchPlan *plan)
{
  if (plan == NULL)
    return;

  g_ptr_array_unref (plan->tensors);
  g_ptr_array_unref (plan->aliases);
  g_ptr_array_unref (plan->extras);
  g_hash_table_unref (plan->metadata);
  g_free (plan);
}

static void
tensor_error (Flattener   *self,
              GError     **error,
              int          code,
              const char  *name,
              const char  *format,
              ...) G_GNUC_PRINTF (5, 6);

static void
tensor_error (Flattener   *self,
              GError     **error,
              int          code,
              const char  *name,
              const char  *format,
              ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, SAFETENSORS_ERROR, code, "%s: tensor “%s”: %s",
               self->display_name, name, message);
}

/* Strides that walk the elements in C order, ignoring dimensions of
 * size 1 (whose stride never matters). */
static gboolean
is_contiguous (const SafetensorsPickleTensor *tensor)
{
  guint64 expected = 1;

  for (guint i = tensor->n_dims; i-- > 0;)
    {
      if (tensor->size[i] == 1)
        continue;
      if ((guint64) tensor->stride[i] != expected)
        return FALSE;
      expected *= tensor->size[i];
    }
  return TRUE;
}

/* Every check a tensor needs before anything is written. */
static gboolean
check_tensor (Flattener                *self,
              const char               *name,
              SafetensorsPickleTensor  *tensor,
              Group                    *group,
              GError                  **error)
{
  SafetensorsPickleStorage *storage = tensor->storage;
  g_autoptr(GError) local_error = NULL;
  guint itemsize = safetensors_torch_dtype_get_itemsize (tensor->dtype);
  guint64 numel = 1, last = 0, storage_numel;

  if (tensor->quantized)
    {
      tensor_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED, name,
                    "quantized tensors (%s) are not supported",
                    safetensors_torch_dtype_get_name (tensor->dtype));
      return FALSE;
    }
  if (!safetensors_torch_dtype_to_safetensors (tensor->dtype, &group->dtype))
    {
      tensor_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED, name,
                    "dtype %s has no safetensors equivalent",
                    safetensors_torch_dtype_get_name (tensor->dtype));
      return FALSE;
    }
  if (tensor->n_dims > SAFETENSORS_HEADER_MAX_RANK)
    {
      tensor_error (self, error, SAFETENSORS_ERROR_UNSUPPORTED, name,
                    "%u dimensions are more than the %u supported",
                    tensor->n_dims, SAFETENSORS_HEADER_MAX_RANK);
      return FALSE;
    }
  if (tensor->offset < 0)
    {
      tensor_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, name,
                    "negative storage offset %" G_GINT64_FORMAT, tensor->offset);
      return FALSE;
    }

  for (guint i = 0; i < tensor->n_dims; i++)
    {
      if (tensor->size[i] < 0 || tensor->stride[i] < 0)
        {
          tensor_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, name,
                        "dimension %u has size %" G_GINT64_FORMAT " and stride %" G_GINT64_FORMAT
                        "; negative values are invalid", i, tensor->size[i], tensor->stride[i]);
          return FALSE;
        }
      if (!g_uint64_checked_mul (&numel, numel, tensor->size[i]))
        {
          tensor_error (self, error, SAFETENSORS_ERROR_VALIDATION_OVERFLOW, name,
                        "its number of elements overflows 64 bits");
          return FALSE;
        }
    }

  if (!g_uint64_checked_mul (&group->n_bytes, numel, itemsize))
    {
      tensor_error (self, error, SAFETENSORS_ERROR_VALIDATION_OVERFLOW, name,
                    "its size in bytes overflows 64 bits");
      return FALSE;
    }

  /* The last element it reaches must lie in the storage:
   * offset + Σ (size_k − 1) · stride_k < numel. */
  storage_numel = storage->n_bytes / itemsize;
  if (numel > 0)
    {
      gboolean ok = TRUE;

      last = tensor->offset;
      for (guint i = 0; ok && i < tensor->n_dims; i++)
        {
          guint64 step;

          ok = g_uint64_checked_mul (&step, tensor->size[i] - 1, tensor->stride[i]) &&
               g_uint64_checked_add (&last, last, step);
        }
      if (!ok || last >= storage_numel)
        {
          tensor_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, name,
                        "it reaches beyond its storage “%s” of %" G_GUINT64_FORMAT
                        " %s elements", storage->key, storage_numel,
                        safetensors_torch_dtype_get_name (tensor->dtype));
          return FALSE;
        }
    }

  if (!safetensors_torch_checkpoint_check_storage (self->checkpoint, storage, &local_error))
    {
      tensor_error (self, error, local_error->code, name, "%s", local_error->message);
      return FALSE;
    }

  /* A deflated storage is inflated whole into a temporary file, however
   * little of it the tensor views; zip allows 1032:1. Stored storages lie
   * in the input, so this only bounds deflated ones. */
  if (storage->n_bytes > self->output_limit)
    {
      tensor_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, name,
                    "its storage “%s” would inflate to %" G_GUINT64_FORMAT " bytes, more than "
                    "%u times the input plus 1 GiB", storage->key, storage->n_bytes,
                    SAFETENSORS_TORCH_OUTPUT_FACTOR);
      return FALSE;
    }

  if (group->n_bytes > self->output_limit - self->plan->total_bytes)
    {
      tensor_error (self, error, SAFETENSORS_ERROR_INVALID_DATA, name,
                    "its %" G_GUINT64_FORMAT " bytes would make the output larger than %u "
                    "times the input plus 1 GiB (a view expanded with stride 0?)",
                    group->n_bytes, SAFETENSORS_TORCH_OUTPUT_FACTOR);
      return FALSE;
    }
  self->plan->total_bytes += group->n_bytes;
  group->contiguous = is_contiguous (tensor);
  return TRUE;
}

static char *
identity_of (const SafetensorsPickleTensor *tensor)
{
  GString *id = g_string_new (tensor->storage->key);

  g_string_append_printf (id, "|%d|%" G_GINT64_FORMAT "|", tensor->dtype, tensor->offset);
  for (guint i = 0; i < tensor->n_dims; i++)
    g_string_append_printf (id, "%" G_GINT64_FORMAT ",", tensor->size[i]);
  g_string_append_c (id, '|');
  for (guint i = 0; i < tensor->n_dims; i++)
    g_string_append_printf (id, "%" G_GINT64_FORMAT ",", tensor->stride[i]);
  return g_string_free (id, FALSE);
}

static gboolean
add_tensor (Flattener                *self,
            const char               *name,
            SafetensorsPickleTensor  *tensor,
            GError                  **error)
{
  g_autofree char *identity = identity_of (tensor);
  gpointer existing = g_hash_table_lookup (self->names, name);
  Group *group = g_hash_table_lookup (self->by_identity, identity);

  if (existing != NULL)
    {
      /* The same name twice ("a.b" and "a" → "b"): fine only when both
       * are the same view. */
      if (existing == group)
        return TRUE;
      tensor_error (self, error, SAFETENSORS_ERROR_DUPLICATE_NAME, name,
                    "two different values flatten to this name");
      return FALSE;
    }

  if (group == NULL)
    {
      group = g_new0 (Group, 1);
      group->tensor = tensor;
      group->names = g_ptr_array_new_with_free_func (g_free);
      if (!check_tensor (self, name, tensor, group, error))
        {
          group_free (group);
          return FALSE;
        }
      g_ptr_array_add (self->groups, group);
      g_hash_table_insert (self->by_identity, g_steal_pointer (&identity), group);
    }

  g_ptr_array_add (group->names, g_strdup (name));
  g_hash_table_insert (self->names, g_ptr_array_index (group->names, group->names->len - 1), group);
  return TRUE;
}

static void
add_extra (Flattener                *self,
           const char               *name,
           SafetensorsPickleObject  *object,
           const char               *reason)
{
  SafetensorsTorchExtra *extra = g_new0 (SafetensorsTorchExtra, 1);

  extra->name = g_strdup (name);
  extra->reason = g_strdup (reason != NULL ? reason : safetensors_pickle_object_type_name (object));
  g_ptr_array_add (self->plan->extras, extra);

  if (object == NULL || !(self->flags & SAFETENSORS_IMPORT_FLAGS_EXTRAS_TO_METADATA))
    return;

  if (g_str_equal (name, "format"))
    {
      g_free (extra->reason);
      extra->reason = g_strdup ("the metadata key “format” is reserved");
      return;
    }
  {
    g_autoptr(GString) json = g_string_new (NULL);
    g_autoptr(GError) local_error = NULL;

    if (!safetensors_pickle_object_to_json (object, json, SAFETENSORS_TORCH_MAX_EXTRA_SIZE,
                                            &local_error))
      {
        g_free (extra->reason);
        extra->reason = g_strdup_printf ("%s: %s", safetensors_pickle_object_type_name (object),
                                         local_error->message);
        return;
      }
    if (json->len > SAFETENSORS_TORCH_MAX_EXTRAS_SIZE - self->extras_size)
      {
        g_free (extra->reason);
        extra->reason = g_strdup_printf ("%s: the stored values exceed %u bytes in all",
                                         safetensors_pickle_object_type_name (object),
                                         SAFETENSORS_TORCH_MAX_EXTRAS_SIZE);
        return;
      }
    self->extras_size += json->len;
    extra->stored = TRUE;
    g_hash_table_insert (self->plan->metadata, g_strdup (name), g_string_free (g_steal_pointer (&json), FALSE));
  }
}

static gboolean
is_container (const SafetensorsPickleObject *object)
{
  return object->type == SAFETENSORS_PICKLE_DICT || object->type == SAFETENSORS_PICKLE_LIST ||
         object->type == SAFETENSORS_PICKLE_TUPLE;
}

/* Every value walked keeps a copy of its name (as a tensor, an extra or a
 * container already seen): bounded one by one and in all. */
static gboolean
charge_name (Flattener  *self,
             GString    *name,
             GError    **error)
{
  if (name->len > SAFETENSORS_TORCH_MAX_NAME_LENGTH)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "%s: a name made of nested keys is longer than %u bytes",
                   self->display_name, SAFETENSORS_TORCH_MAX_NAME_LENGTH);
      return FALSE;
    }
  if (name->len + 1 > SAFETENSORS_TORCH_MAX_NAMES_SIZE - self->names_size)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "%s: the names of the values take more than %" G_GUINT64_FORMAT " bytes",
                   self->display_name, SAFETENSORS_TORCH_MAX_NAMES_SIZE);
      return FALSE;
    }
  self->names_size += name->len + 1;
  return TRUE;
}

static gboolean
walk (Flattener                *self,
      SafetensorsPickleObject  *object,
      GString                  *name,
      guint                     depth,
      GError                  **error)
{
  gboolean is_dict;
  gsize name_len = name->len;
  const char *first_seen;

  if (!charge_name (self, name, error))
    return FALSE;

  if (object->type == SAFETENSORS_PICKLE_TENSOR)
    return add_tensor (self, name->str, object->tensor, error);

  if (!is_container (object))
    {
      if (g_hash_table_contains (self->names, name->str))
        {
          tensor_error (self, error, SAFETENSORS_ERROR_DUPLICATE_NAME, name->str,
                        "two different values flatten to this name");
          return FALSE;
        }
      g_hash_table_insert (self->names, g_strdup (name->str), self->plan->extras);
      add_extra (self, name->str, object, NULL);
      return TRUE;
    }

  /* Shared references and cycles are legal pickle; each container is
   * walked once, so neither can multiply the work. */
  first_seen = g_hash_table_lookup (self->visited, object);
  if (first_seen != NULL)
    {
      g_autofree char *reason = g_hash_table_contains (self->on_path, object) ?
                                g_strdup_printf ("contains itself (“%s”)", first_seen) :
                                g_strdup_printf ("the same %s as “%s”",
                                                 safetensors_pickle_object_type_name (object), first_seen);

      add_extra (self, name->str, NULL, reason);
      return TRUE;
    }
  if (depth >= SAFETENSORS_PICKLE_MAX_DEPTH)
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                   "%s: “%s” nests more than %u levels deep",
                   self->display_name, name->str, SAFETENSORS_PICKLE_MAX_DEPTH);
      return FALSE;
    }
  g_hash_table_insert (self->visited, object, g_strdup (name->len > 0 ? name->str : "(top level)"));
  g_hash_table_add (self->on_path, object);

  is_dict = object->type == SAFETENSORS_PICKLE_DICT;
  for (guint i = 0; i < object->seq.len; i += is_dict ? 2 : 1)
    {
      SafetensorsPickleObject *child = object->seq.items[is_dict ? i + 1 : i];

      if (name_len > 0)
        g_string_append_c (name, '.');
      if (is_dict)
        {
          g_autofree char *key = safetensors_pickle_object_key_string (object->seq.items[i]);

          g_string_append (name, key);
        }
      else
        {
          g_string_append_printf (name, "%u", i);
        }

      if (!walk (self, child, name, depth + 1, error))
        return FALSE;
      g_string_truncate (name, name_len);
    }

  g_hash_table_remove (self->on_path, object);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Selection                                                          */
/* ------------------------------------------------------------------ */

static SafetensorsPickleObject *
lookup_child (SafetensorsPickleObject *object,
              const char              *component)
{
  guint64 index;

  if (object->type == SAFETENSORS_PICKLE_OBJECT)
    object = object->object.state;
  if (object == NULL)
    return NULL;

  if (object->type == SAFETENSORS_PICKLE_DICT)
    {
      SafetensorsPickleObject *child = safetensors_pickle_dict_lookup_string (object, component);

      /* Other keys (optimizer state uses ints) by their flattened name. */
      for (guint i = 0; child == NULL && i < object->seq.len; i += 2)
        {
          g_autofree char *text = NULL;

          if (object->seq.items[i]->type == SAFETENSORS_PICKLE_STR)
            continue;
          text = safetensors_pickle_object_key_string (object->seq.items[i]);
          if (g_str_equal (text, component))
            child = object->seq.items[i + 1];
        }
      return child;
    }

  if ((object->type == SAFETENSORS_PICKLE_LIST || object->type == SAFETENSORS_PICKLE_TUPLE) &&
      g_ascii_string_to_unsigned (component, 10, 0, G_MAXUINT, &index, NULL) &&
      index < object->seq.len)
    return object->seq.items[index];

  return NULL;
}

static char *
join_components (char  **components,
                 guint   start,
                 guint   end)
{
  GString *text = g_string_new (NULL);

  for (guint i = start; i < end; i++)
    {
      if (i > start)
        g_string_append_c (text, '.');
      g_string_append (text, components[i]);
    }
  return g_string_free (text, FALSE);
}

/* Follows a dotted path; a key may itself contain dots, so at each level
 * the longest run of components that names a child wins. */
static SafetensorsPickleObject *
select_by_key (Flattener                *self,
               SafetensorsPickleObject  *object,
               const char               *key,
               GError                  **error)
{
  g_auto(GStrv) components = g_strsplit (key, ".", -1);
  guint n = g_strv_length (components);
  guint i = 0;

  while (i < n)
    {
      SafetensorsPickleObject *child = NULL;
      guint j;

      for (j = n; j > i && child == NULL; j--)
        {
          g_autofree char *text = join_components (components, i, j);

          child = lookup_child (object, text);
          if (child != NULL)
            break;
        }
      if (child == NULL)
        {
          g_autofree char *done = join_components (components, 0, i);

          g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                       "%s: key “%s” not found: the %s at “%s” has no “%s”",
                       self->display_name, key, safetensors_pickle_object_type_name (object),
                       i == 0 ? "(top level)" : done, components[i]);
          return NULL;
        }
      object = child;
      i = j;
    }

  return object;
}

static int
compare_infos (gconstpointer a,
               gconstpointer b)
{
  const SafetensorsTorchPlanTensor *x = *(SafetensorsTorchPlanTensor * const *) a;
  const SafetensorsTorchPlanTensor *y = *(SafetensorsTorchPlanTensor * const *) b;

  return safetensors_tensor_info_compare_canonical (&x->info, &y->info);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Each group becomes one tensor under its bytewise smallest name, like
 * HF's convert.py; the other names are recorded as “removed: kept”. */
static gboolean
finish_plan (Flattener  *self,
             GError    **error)
{
  SafetensorsTorchPlan *plan = self->plan;
  g_autoptr(GPtrArray) alias_pairs = g_ptr_array_new ();

  for (guint i = 0; i < self->groups->len; i++)
    {
      Group *group = g_ptr_array_index (self->groups, i);
      SafetensorsTorchPlanTensor *planned;
      g_autofree guint64 *shape = g_new (guint64, MAX (group->tensor->n_dims, 1));
      const char *kept;

      g_ptr_array_sort (group->names, compare_strings);
      kept = g_ptr_array_index (group->names, 0);

      for (guint d = 0; d < group->tensor->n_dims; d++)
        shape[d] = group->tensor->size[d];

      planned = g_new0 (SafetensorsTorchPlanTensor, 1);
      planned->info = safetensors_tensor_info_new (kept, group->dtype, shape,
                                                   group->tensor->n_dims, error);
      if (planned->info == NULL)
        {
          g_free (planned);
          g_prefix_error (error, "%s: ", self->display_name);
          return FALSE;
        }
      planned->tensor = group->tensor;
      planned->n_bytes = group->n_bytes;
      planned->contiguous = group->contiguous;
      g_ptr_array_add (plan->tensors, planned);

      for (guint k = 1; k < group->names->len; k++)
        {
          const char *removed = g_ptr_array_index (group->names, k);

          g_ptr_array_add (alias_pairs, (gpointer) removed);
          g_ptr_array_add (alias_pairs, (gpointer) kept);
        }
    }

  g_ptr_array_sort (plan->tensors, compare_infos);

  /* Aliases sorted by removed name; "format" keeps its value. */
  {
    g_autoptr(GPtrArray) removed = g_ptr_array_new ();
    g_autoptr(GHashTable) kept_for = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < alias_pairs->len; i += 2)
      {
        g_ptr_array_add (removed, alias_pairs->pdata[i]);
        g_hash_table_insert (kept_for, alias_pairs->pdata[i], alias_pairs->pdata[i + 1]);
      }
    g_ptr_array_sort (removed, compare_strings);
    for (guint i = 0; i < removed->len; i++)
      {
        const char *name = g_ptr_array_index (removed, i);
        const char *kept = g_hash_table_lookup (kept_for, name);

        g_ptr_array_add (plan->aliases, g_strdup (name));
        g_ptr_array_add (plan->aliases, g_strdup (kept));
        if (!g_str_equal (name, "format"))
          g_hash_table_replace (plan->metadata, g_strdup (name), g_strdup (kept));
      }
  }

  return TRUE;
}

SafetensorsTorchPlan *
safetensors_torch_plan_new (SafetensorsTorchCheckpoint  *checkpoint,
                            SafetensorsImportFlags       flags,
                            const char                  *key,
                            GError                     **error)
{
  g_autoptr(SafetensorsTorchPlan) plan = g_new0 (SafetensorsTorchPlan, 1);
  g_autoptr(GString) name = g_string_new (NULL);
  SafetensorsPickleObject *object = safetensors_torch_checkpoint_get_root (checkpoint);
  Flattener self = { 0 };
  gboolean ok;
  guint64 size = safetensors_torch_checkpoint_get_size (checkpoint);

  plan->tensors = g_ptr_array_new_with_free_func (plan_tensor_free);
  plan->aliases = g_ptr_array_new_with_free_func (g_free);
  plan->extras = g_ptr_array_new_with_free_func (extra_free);
  plan->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  self.checkpoint = checkpoint;
  self.display_name = safetensors_torch_checkpoint_get_display_name (checkpoint);
  self.flags = flags;
  self.plan = plan;
  if (size > (G_MAXUINT64 - SAFETENSORS_TORCH_OUTPUT_ALLOWANCE) / SAFETENSORS_TORCH_OUTPUT_FACTOR)
    self.output_limit = G_MAXUINT64;
  else
    self.output_limit = size * SAFETENSORS_TORCH_OUTPUT_FACTOR + SAFETENSORS_TORCH_OUTPUT_ALLOWANCE;

  if (key != NULL && (flags & SAFETENSORS_IMPORT_FLAGS_ALL))
    {
      g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_ARGUMENT,
                   "a key and SAFETENSORS_IMPORT_FLAGS_ALL cannot be combined");
      return NULL;
    }

  if (key != NULL)
    {
      object = select_by_key (&self, object, key, error);
      if (object == NULL)
        return NULL;
    }
  else if (!(flags & SAFETENSORS_IMPORT_FLAGS_ALL) && object->type == SAFETENSORS_PICKLE_DICT)
    {
      SafetensorsPickleObject *state_dict = safetensors_pickle_dict_lookup_string (object, "state_dict");

      if (state_dict != NULL && state_dict->type == SAFETENSORS_PICKLE_DICT)
        object = state_dict;
    }

  /* A bare value is named after the key that selected it. */
  if (!is_container (object))
    g_string_append (name, key != NULL ? key :
                     object->type == SAFETENSORS_PICKLE_TENSOR ? SAFETENSORS_TORCH_BARE_TENSOR_NAME :
                     SAFETENSORS_TORCH_BARE_VALUE_NAME);

  self.visited = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self.on_path = g_hash_table_new (NULL, NULL);
  self.by_identity = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self.names = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  self.groups = g_ptr_array_new_with_free_func (group_free);

  g_hash_table_insert (plan->metadata, g_strdup ("format"), g_strdup ("pt"));

  ok = walk (&self, object, name, 0, error) && finish_plan (&self, error);

  /* Names of extras are owned by the table; those of tensors by groups. */
  {
    GHashTableIter iter;
    gpointer table_key, value;

    g_hash_table_iter_init (&iter, self.names);
    while (g_hash_table_iter_next (&iter, &table_key, &value))
      if (value == plan->extras)
        g_free (table_key);
  }
  g_hash_table_unref (self.names);
  g_hash_table_unref (self.visited);
  g_hash_table_unref (self.on_path);
  g_hash_table_unref (self.by_identity);
  g_ptr_array_unref (self.groups);

  return ok ? g_steal_pointer (&plan) : NULL;
}
