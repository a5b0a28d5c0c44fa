/* crash-workload.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The process the crash tests kill. One binary, several commands:
 *
 *   crash-workload list [--long]           the scenarios of a sweep
 *   crash-workload prepare SCENARIO FILE   writes the scenario's old file
 *   crash-workload run SCENARIO FILE [--state-out PATH] [--retry]
 *                                          one transaction on FILE
 *   crash-workload dump FILE               the content of FILE, strictly read
 *   crash-workload check FILE              recovery, then the content
 *   crash-workload info SCENARIO           its policy: compact or keep-free
 *
 * A scenario is a name (see scenarios[], or random-SEED) with optional
 * modifiers: +nommap (the stream backend), +async (commit_async).
 *
 * Exit status of run: 0 committed; 3 an edit or the commit failed with a
 * GError, the transaction was rolled back (the state of the live object
 * after the rollback goes to --state-out); 4 the file did not open; 5 the
 * rollback or the close after it failed. 137 comes from crash-shim. With
 * --retry, a failed commit is tried once more before giving up.
 *
 * dump and check live in crash-check.c.
 */

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "crash-workload.h"

typedef enum
{
  BASE_PLAIN,      /* five tensors and metadata, compact */
  BASE_FREE,       /* the same after removals with keep-free: two fillers */
  BASE_LONG_NAME,  /* plain plus a tensor with a 5000-byte name */
  BASE_EMPTY,      /* an empty safetensors file */
  BASE_RANDOM,     /* from the seed */
} Base;

typedef gboolean (*EditFunc) (SafetensorsFile *file,
                              GRand           *rand,
                              GError         **error);

typedef enum
{
  FINISH_COMMIT,
  FINISH_COMPACT,
  FINISH_CLOSE,
} Finish;

typedef struct
{
  const char          *name;
  Base                 base;
  SafetensorsOpenFlags flags;
  EditFunc             edit;
  Finish               finish;
  gboolean             long_only;
} Scenario;

/* A scenario as named on the command line. */
typedef struct
{
  Scenario             scenario;
  guint32              seed;
  gboolean             async;
} Spec;

/* ---- data --------------------------------------------------------------- */

/* Deterministic bytes, never all zero (zero blocks are skipped on disk). */
static GBytes *
pattern (guint  salt,
         gsize  n)
{
  guint8 *data = g_malloc (MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    data[i] = (guint8) ((i * 131 + salt * 37 + (i >> 8) * 7) % 251 + 1);
  return g_bytes_new_take (data, n);
}

static char *
repeat (char  c,
        gsize n)
{
  char *s = g_malloc (n + 1);

  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static gboolean
add (SafetensorsFile  *file,
     const char       *name,
     SafetensorsDType  dtype,
     guint64           n_elements,
     guint             salt,
     GError          **error)
{
  guint bits = safetensors_dtype_get_bits (dtype);
  g_autoptr(GBytes) data = salt == 0 ? NULL : pattern (salt, n_elements * bits / 8);

  return safetensors_file_add_tensor (file, name, dtype, &n_elements, 1, data, error);
}

static gboolean
replace (SafetensorsFile  *file,
         const char       *name,
         SafetensorsDType  dtype,
         guint64           n_elements,
         guint             salt,
         GError          **error)
{
  guint bits = safetensors_dtype_get_bits (dtype);
  g_autoptr(GBytes) data = pattern (salt, n_elements * bits / 8);

  return safetensors_file_replace_tensor (file, name, dtype, &n_elements, 1, data, error);
}

/* The name of the tensor at @position (0 = first, -1 = last, or the middle
 * one for any other value) in file order. */
static char *
name_at (SafetensorsFile *file,
         int              position)
{
  guint n = safetensors_file_get_n_tensors (file);
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  guint index;

  g_assert (n > 0);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (tensors, g_list_model_get_item (G_LIST_MODEL (file), i));
  for (guint i = 1; i < n; i++)
    for (guint j = i; j > 0; j--)
      {
        SafetensorsTensor *a = g_ptr_array_index (tensors, j - 1);
        SafetensorsTensor *b = g_ptr_array_index (tensors, j);

        if (safetensors_tensor_get_file_offset (a) <= safetensors_tensor_get_file_offset (b))
          break;
        tensors->pdata[j - 1] = b;
        tensors->pdata[j] = a;
      }

  index = position == 0 ? 0 : position == -1 ? n - 1 : n / 2;
  return g_strdup (safetensors_tensor_get_name (g_ptr_array_index (tensors, index)));
}

/* ---- old files ------------------------------------------------------------ */

static gboolean
fill_plain (SafetensorsFile  *file,
            GError          **error)
{
  return add (file, "t0.weight", SAFETENSORS_DTYPE_F32, 64, 1, error) &&
         add (file, "t1.weight", SAFETENSORS_DTYPE_F64, 100, 2, error) &&
         add (file, "t2.bias", SAFETENSORS_DTYPE_U8, 1000, 3, error) &&
         add (file, "t3.scale", SAFETENSORS_DTYPE_I16, 150, 4, error) &&
         add (file, "t4.embed", SAFETENSORS_DTYPE_BF16, 128, 5, error) &&
         safetensors_file_set_metadata_value (file, "format", "pt", error) &&
         safetensors_file_set_metadata_value (file, "note", "old", error);
}

static const SafetensorsDType random_dtypes[] = {
  SAFETENSORS_DTYPE_U8, SAFETENSORS_DTYPE_BOOL, SAFETENSORS_DTYPE_F16, SAFETENSORS_DTYPE_BF16,
  SAFETENSORS_DTYPE_F32, SAFETENSORS_DTYPE_I32, SAFETENSORS_DTYPE_F64, SAFETENSORS_DTYPE_I64,
};

static gboolean
add_random (SafetensorsFile  *file,
            GRand            *rand,
            const char       *name,
            GError          **error)
{
  SafetensorsDType dtype = random_dtypes[g_rand_int_range (rand, 0, G_N_ELEMENTS (random_dtypes))];
  guint64 n = g_rand_int_range (rand, 0, 600);
  /* Some tensors are zeros: they stay holes. */
  guint salt = g_rand_int_range (rand, 0, 6) == 0 ? 0 : g_rand_int_range (rand, 1, 1000);

  return add (file, name, dtype, n, salt, error);
}

static gboolean
fill_random (SafetensorsFile  *file,
             GRand            *rand,
             GError          **error)
{
  guint n = g_rand_int_range (rand, 1, 8);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("r%u", i);

      if (!add_random (file, rand, name, error))
        return FALSE;
    }
  if (g_rand_boolean (rand) &&
      !safetensors_file_set_metadata_value (file, "seed", "old", error))
    return FALSE;
  return TRUE;
}

static SafetensorsFile *
create (const char           *path,
        SafetensorsOpenFlags  flags,
        GError              **error)
{
  return safetensors_file_new_for_path (path, flags | SAFETENSORS_OPEN_FLAGS_READ_WRITE |
                                        SAFETENSORS_OPEN_FLAGS_CREATE, error);
}

static gboolean
prepare (const Spec  *spec,
         const char  *path,
         GError     **error)
{
  g_autoptr(SafetensorsFile) file = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (spec->seed);
  gboolean keep_free = (spec->scenario.flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE) != 0;

  g_unlink (path);
  switch (spec->scenario.base)
    {
    case BASE_EMPTY:
      file = create (path, 0, error);
      break;

    case BASE_PLAIN:
    case BASE_LONG_NAME:
      file = create (path, 0, error);
      if (file == NULL || !fill_plain (file, error))
        return FALSE;
      if (spec->scenario.base == BASE_LONG_NAME)
        {
          g_autofree char *name = repeat ('n', 5000);

          if (!add (file, name, SAFETENSORS_DTYPE_F32, 10, 6, error))
            return FALSE;
        }
      break;

    case BASE_FREE:
      file = create (path, SAFETENSORS_OPEN_FLAGS_KEEP_FREE, error);
      if (file == NULL || !fill_plain (file, error) ||
          !safetensors_file_commit (file, NULL, error) ||
          !safetensors_file_remove_tensor (file, "t1.weight", error) ||
          !safetensors_file_remove_tensor (file, "t3.scale", error))
        return FALSE;
      break;

    case BASE_RANDOM:
      file = create (path, keep_free ? SAFETENSORS_OPEN_FLAGS_KEEP_FREE : 0, error);
      if (file == NULL || !fill_random (file, rand, error))
        return FALSE;
      /* Keep-free files get their fillers from removals. */
      if (keep_free && safetensors_file_get_n_tensors (file) > 1)
        {
          g_autofree char *victim = NULL;

          if (!safetensors_file_commit (file, NULL, error))
            return FALSE;
          victim = name_at (file, 1);
          if (!safetensors_file_remove_tensor (file, victim, error))
            return FALSE;
        }
      break;

    default:
      g_assert_not_reached ();
    }

  return file != NULL && safetensors_file_close (file, NULL, error);
}

/* ---- transactions ----------------------------------------------------------- */

static gboolean
edit_add (SafetensorsFile  *file,
          GRand            *rand,
          GError          **error)
{
  return add (file, "new.a", SAFETENSORS_DTYPE_F32, 50, 11, error) &&
         add (file, "new.zeros", SAFETENSORS_DTYPE_U8, 3000, 0, error) &&
         add (file, "new.c", SAFETENSORS_DTYPE_I64, 7, 12, error);
}

static gboolean
edit_add_big (SafetensorsFile  *file,
              GRand            *rand,
              GError          **error)
{
  /* Several blocks, partly zero. */
  const guint64 n = 20000;
  g_autoptr(GBytes) data = NULL;
  gsize len;
  guint8 *bytes = g_bytes_unref_to_data (pattern (13, n), &len);

  memset (bytes + 4096, 0, 8192);
  data = g_bytes_new_take (bytes, len);
  return safetensors_file_add_tensor (file, "new.big", SAFETENSORS_DTYPE_U8, &n, 1, data, error);
}

static gboolean
edit_remove_first (SafetensorsFile  *file,
                   GRand            *rand,
                   GError          **error)
{
  g_autofree char *name = name_at (file, 0);

  return safetensors_file_remove_tensor (file, name, error);
}

static gboolean
edit_remove_middle (SafetensorsFile  *file,
                    GRand            *rand,
                    GError          **error)
{
  g_autofree char *name = name_at (file, 1);

  return safetensors_file_remove_tensor (file, name, error);
}

static gboolean
edit_remove_last (SafetensorsFile  *file,
                  GRand            *rand,
                  GError          **error)
{
  g_autofree char *name = name_at (file, -1);

  return safetensors_file_remove_tensor (file, name, error);
}

static gboolean
edit_remove_all (SafetensorsFile  *file,
                 GRand            *rand,
                 GError          **error)
{
  g_auto(GStrv) names = safetensors_file_get_tensor_names (file);

  for (guint i = 0; names[i] != NULL; i++)
    if (!safetensors_file_remove_tensor (file, names[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
edit_rename_short (SafetensorsFile  *file,
                   GRand            *rand,
                   GError          **error)
{
  return safetensors_file_rename_tensor (file, "t2.bias", "t2.b", error);
}

/* Longer than the spare header padding: the header grows over the first
 * tensors, which move. */
static gboolean
edit_rename_long (SafetensorsFile  *file,
                  GRand            *rand,
                  GError          **error)
{
  g_autofree char *name = repeat ('L', 6000);

  return safetensors_file_rename_tensor (file, "t2.bias", name, error);
}

static gboolean
edit_header_shrink (SafetensorsFile  *file,
                    GRand            *rand,
                    GError          **error)
{
  g_autofree char *name = repeat ('n', 5000);

  return safetensors_file_rename_tensor (file, name, "short", error);
}

static gboolean
edit_metadata (SafetensorsFile  *file,
               GRand            *rand,
               GError          **error)
{
  return safetensors_file_set_metadata_value (file, "note", "new", error) &&
         safetensors_file_set_metadata_value (file, "format", NULL, error) &&
         safetensors_file_set_metadata_value (file, "added", "yes", error);
}

static gboolean
edit_metadata_grow (SafetensorsFile  *file,
                    GRand            *rand,
                    GError          **error)
{
  g_autofree char *value = repeat ('m', 8000);

  return safetensors_file_set_metadata_value (file, "long", value, error);
}

static gboolean
edit_replace_bigger (SafetensorsFile  *file,
                     GRand            *rand,
                     GError          **error)
{
  g_autofree char *name = name_at (file, 1);

  return replace (file, name, SAFETENSORS_DTYPE_F32, 700, 21, error);
}

static gboolean
edit_replace_smaller (SafetensorsFile  *file,
                      GRand            *rand,
                      GError          **error)
{
  g_autofree char *name = name_at (file, 1);

  return replace (file, name, SAFETENSORS_DTYPE_U8, 40, 22, error);
}

static gboolean
edit_mixed (SafetensorsFile  *file,
            GRand            *rand,
            GError          **error)
{
  g_autofree char *first = name_at (file, 0);
  g_autofree char *last = name_at (file, -1);
  g_autofree char *longer = repeat ('M', 300);

  return safetensors_file_remove_tensor (file, first, error) &&
         add (file, "mixed.x", SAFETENSORS_DTYPE_F16, 333, 31, error) &&
         safetensors_file_rename_tensor (file, last, longer, error) &&
         add (file, "mixed.y", SAFETENSORS_DTYPE_I32, 90, 32, error) &&
         safetensors_file_set_metadata_value (file, "note", "mixed", error);
}

/* On a keep-free file with two free ranges: both new tensors go into
 * them, before the commit, instead of past the end. */
static gboolean
edit_reuse (SafetensorsFile  *file,
            GRand            *rand,
            GError          **error)
{
  return add (file, "reuse.a", SAFETENSORS_DTYPE_F64, 90, 41, error) &&
         add (file, "reuse.b", SAFETENSORS_DTYPE_U8, 120, 42, error);
}

static gboolean
edit_nothing (SafetensorsFile  *file,
              GRand            *rand,
              GError          **error)
{
  return TRUE;
}

static gboolean
edit_random (SafetensorsFile  *file,
             GRand            *rand,
             GError          **error)
{
  guint n_ops = g_rand_int_range (rand, 1, 7);

  for (guint op = 0; op < n_ops; op++)
    {
      guint kind = g_rand_int_range (rand, 0, 100);
      guint n = safetensors_file_get_n_tensors (file);
      g_auto(GStrv) names = safetensors_file_get_tensor_names (file);
      const char *victim = n > 0 ? names[g_rand_int_range (rand, 0, n)] : NULL;
      g_autofree char *fresh = NULL;

      if (g_rand_int_range (rand, 0, 8) == 0)
        {
          g_autofree char *filler = repeat ('R', g_rand_int_range (rand, 100, 7000));

          fresh = g_strdup_printf ("%s.%u", filler, op);
        }
      else
        fresh = g_strdup_printf ("n%u", op);

      if (kind < 30 || victim == NULL)
        {
          if (!add_random (file, rand, fresh, error))
            return FALSE;
        }
      else if (kind < 50)
        {
          if (!safetensors_file_remove_tensor (file, victim, error))
            return FALSE;
        }
      else if (kind < 65)
        {
          if (!safetensors_file_rename_tensor (file, victim, fresh, error))
            return FALSE;
        }
      else if (kind < 80)
        {
          SafetensorsDType dtype = random_dtypes[g_rand_int_range (rand, 0, G_N_ELEMENTS (random_dtypes))];

          if (!replace (file, victim, dtype, g_rand_int_range (rand, 0, 900),
                        g_rand_int_range (rand, 1, 1000), error))
            return FALSE;
        }
      else
        {
          g_autofree char *key = g_strdup_printf ("k%u", g_rand_int_range (rand, 0, 3));
          g_autofree char *value = g_rand_int_range (rand, 0, 4) == 0
                                   ? NULL : g_strdup_printf ("v%u", g_rand_int (rand));

          if (!safetensors_file_set_metadata_value (file, key, value, error))
            return FALSE;
        }
    }
  return TRUE;
}

#define RW SAFETENSORS_OPEN_FLAGS_NONE
#define KF SAFETENSORS_OPEN_FLAGS_KEEP_FREE

static const Scenario scenarios[] = {
  { "add",               BASE_PLAIN,     RW, edit_add,             FINISH_COMMIT,  FALSE },
  { "add-big",           BASE_PLAIN,     RW, edit_add_big,         FINISH_COMMIT,  TRUE },
  { "add-to-empty",      BASE_EMPTY,     RW, edit_add,             FINISH_COMMIT,  FALSE },
  { "remove-first",      BASE_PLAIN,     RW, edit_remove_first,    FINISH_COMMIT,  FALSE },
  { "remove-middle",     BASE_PLAIN,     RW, edit_remove_middle,   FINISH_COMMIT,  FALSE },
  { "remove-last",       BASE_PLAIN,     RW, edit_remove_last,     FINISH_COMMIT,  FALSE },
  { "remove-all",        BASE_PLAIN,     RW, edit_remove_all,      FINISH_COMMIT,  TRUE },
  { "rename-short",      BASE_PLAIN,     RW, edit_rename_short,    FINISH_COMMIT,  FALSE },
  { "rename-long",       BASE_PLAIN,     RW, edit_rename_long,     FINISH_COMMIT,  FALSE },
  { "header-shrink",     BASE_LONG_NAME, RW, edit_header_shrink,   FINISH_COMMIT,  FALSE },
  { "metadata",          BASE_PLAIN,     RW, edit_metadata,        FINISH_COMMIT,  FALSE },
  { "metadata-grow",     BASE_PLAIN,     RW, edit_metadata_grow,   FINISH_COMMIT,  FALSE },
  { "replace-bigger",    BASE_PLAIN,     RW, edit_replace_bigger,  FINISH_COMMIT,  FALSE },
  { "replace-smaller",   BASE_PLAIN,     RW, edit_replace_smaller, FINISH_COMMIT,  FALSE },
  { "mixed",             BASE_PLAIN,     RW, edit_mixed,           FINISH_COMMIT,  FALSE },
  { "mixed-close",       BASE_PLAIN,     RW, edit_mixed,           FINISH_CLOSE,   TRUE },
  { "kf-remove-middle",  BASE_PLAIN,     KF, edit_remove_middle,   FINISH_COMMIT,  FALSE },
  { "kf-remove-last",    BASE_FREE,      KF, edit_remove_last,     FINISH_COMMIT,  TRUE },
  { "kf-add-reuse",      BASE_FREE,      KF, edit_reuse,           FINISH_COMMIT,  FALSE },
  { "kf-replace",        BASE_FREE,      KF, edit_replace_bigger,  FINISH_COMMIT,  TRUE },
  { "kf-rename-long",    BASE_FREE,      KF, edit_rename_long,     FINISH_COMMIT,  FALSE },
  { "kf-metadata-grow",  BASE_FREE,      KF, edit_metadata_grow,   FINISH_COMMIT,  TRUE },
  { "kf-mixed",          BASE_FREE,      KF, edit_mixed,           FINISH_COMMIT,  FALSE },
  { "compact",           BASE_FREE,      KF, edit_nothing,         FINISH_COMPACT, FALSE },
  { "compact-edit",      BASE_FREE,      KF, edit_mixed,           FINISH_COMPACT, FALSE },
};

/* Parses NAME[+nommap][+async]. */
static gboolean
parse_spec (const char *text,
            Spec       *spec)
{
  g_auto(GStrv) parts = g_strsplit (text, "+", -1);

  memset (spec, 0, sizeof *spec);
  for (guint i = 1; parts[i] != NULL; i++)
    {
      if (strcmp (parts[i], "nommap") == 0)
        spec->scenario.flags |= SAFETENSORS_OPEN_FLAGS_NO_MMAP;
      else if (strcmp (parts[i], "async") == 0)
        spec->async = TRUE;
      else
        return FALSE;
    }

  if (g_str_has_prefix (parts[0], "random-"))
    {
      guint64 seed;
      g_autoptr(GRand) rand = NULL;

      if (!g_ascii_string_to_unsigned (parts[0] + 7, 10, 0, G_MAXUINT32, &seed, NULL))
        return FALSE;
      spec->seed = seed;
      rand = g_rand_new_with_seed (spec->seed ^ 0x9e3779b9u);
      spec->scenario.name = "random";
      spec->scenario.base = BASE_RANDOM;
      spec->scenario.edit = edit_random;
      if (g_rand_boolean (rand))
        spec->scenario.flags |= SAFETENSORS_OPEN_FLAGS_KEEP_FREE;
      spec->scenario.finish = g_rand_int_range (rand, 0, 8) == 0 ? FINISH_COMPACT
                              : g_rand_int_range (rand, 0, 8) == 0 ? FINISH_CLOSE : FINISH_COMMIT;
      return TRUE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (strcmp (scenarios[i].name, parts[0]) == 0)
      {
        SafetensorsOpenFlags extra = spec->scenario.flags;

        spec->scenario = scenarios[i];
        spec->scenario.flags |= extra;
        spec->seed = i + 1;
        return TRUE;
      }
  return FALSE;
}

/* ---- commands ---------------------------------------------------------------------- */

static int
cmd_list (gboolean all)
{
  for (guint i = 0; i < G_N_ELEMENTS (scenarios); i++)
    if (all || !scenarios[i].long_only)
      g_print ("%s\n", scenarios[i].name);
  return 0;
}

static int
cmd_prepare (const Spec *spec,
             const char *path)
{
  g_autoptr(GError) error = NULL;

  if (!prepare (spec, path, &error))
    {
      g_printerr ("prepare %s: %s\n", spec->scenario.name, error->message);
      return 1;
    }
  return 0;
}

static void
on_committed (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
finish (SafetensorsFile  *file,
        const Spec       *spec,
        GError          **error)
{
  switch (spec->scenario.finish)
    {
    case FINISH_COMPACT:
      return safetensors_file_compact (file, NULL, error);
    case FINISH_CLOSE:
      return safetensors_file_close (file, NULL, error);
    case FINISH_COMMIT:
    default:
      if (spec->async)
        {
          g_autoptr(GAsyncResult) result = NULL;

          safetensors_file_commit_async (file, G_PRIORITY_DEFAULT, NULL, on_committed, &result);
          while (result == NULL)
            g_main_context_iteration (NULL, TRUE);
          return safetensors_file_commit_finish (file, result, error);
        }
      return safetensors_file_commit (file, NULL, error);
    }
}

static int
cmd_run (const Spec *spec,
         const char *path,
         const char *state_out,
         gboolean    retry)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (spec->seed * 7919u + 1);
  g_autoptr(SafetensorsFile) file = NULL;
  g_autofree char *state = NULL;

  file = safetensors_file_new_for_path (path, spec->scenario.flags | SAFETENSORS_OPEN_FLAGS_READ_WRITE,
                                        &error);
  if (file == NULL)
    {
      crash_print_error ("open", error);
      return EXIT_OPEN_FAILED;
    }

  if (!spec->scenario.edit (file, rand, &error))
    goto failed;
  if (!finish (file, spec, &error))
    {
      /* A commit that failed before changing the file leaves the
       * transaction pending; one that was rolled back from its journal may
       * drop it. If it is pending, a second attempt (the fault is gone)
       * must commit all of it. */
      g_print ("pending: %s\n", safetensors_file_has_changes (file) ? "yes" : "no");
      if (!retry || !safetensors_file_has_changes (file))
        goto failed;
      crash_print_error ("first-attempt", error);
      g_clear_error (&error);
      if (!finish (file, spec, &error))
        goto failed;
    }
  if (safetensors_file_close (file, NULL, &error))
    return 0;

failed:

  /* The documented way out of a failed transaction. */
  g_assert (error != NULL);
  crash_print_error ("transaction", error);
  g_clear_error (&error);
  safetensors_file_rollback (file);
  if (safetensors_file_has_changes (file))
    {
      g_print ("rollback: still has changes\n");
      return EXIT_ROLLBACK_FAILED;
    }

  if (state_out != NULL)
    {
      state = crash_describe (file, &error);
      if (state == NULL)
        {
          crash_print_error ("rollback-state", error);
          return EXIT_ROLLBACK_FAILED;
        }
      if (!g_file_set_contents (state_out, state, -1, &error))
        {
          crash_print_error ("state-out", error);
          return 1;
        }
    }

  if (!safetensors_file_close (file, NULL, &error))
    {
      crash_print_error ("close-after-rollback", error);
      return EXIT_ROLLBACK_FAILED;
    }
  return EXIT_ROLLED_BACK;
}

static int
cmd_info (const Spec *spec)
{
  g_print ("policy: %s\n", spec->scenario.flags & SAFETENSORS_OPEN_FLAGS_KEEP_FREE ? "keep-free" : "compact");
  return 0;
}

static int
usage (void)
{
  g_printerr ("usage: crash-workload list [--long]\n"
              "       crash-workload prepare SCENARIO FILE\n"
              "       crash-workload run SCENARIO FILE [--state-out PATH] [--retry]\n"
              "       crash-workload dump FILE\n"
              "       crash-workload check FILE\n"
              "       crash-workload info SCENARIO\n");
  return 1;
}

int
main (int   argc,
      char *argv[])
{
  Spec spec;

  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return cmd_list (argc >= 3 && strcmp (argv[2], "--long") == 0);
  if (argc == 3 && strcmp (argv[1], "dump") == 0)
    return crash_cmd_dump (argv[2]);
  if (argc == 3 && strcmp (argv[1], "check") == 0)
    return crash_cmd_check (argv[2]);

  if (argc < 3)
    return usage ();
  if (!parse_spec (argv[2], &spec))
    {
      g_printerr ("unknown scenario “%s”\n", argv[2]);
      return 1;
    }
  if (strcmp (argv[1], "info") == 0 && argc == 3)
    return cmd_info (&spec);
  if (strcmp (argv[1], "prepare") == 0 && argc == 4)
    return cmd_prepare (&spec, argv[3]);
  if (strcmp (argv[1], "run") == 0 && argc >= 4)
    {
      const char *state_out = NULL;
      gboolean retry = FALSE;

      for (int i = 4; i < argc; i++)
        {
          if (strcmp (argv[i], "--state-out") == 0 && i + 1 < argc)
            state_out = argv[++i];
          else if (strcmp (argv[i], "--retry") == 0)
            retry = TRUE;
          else
            return usage ();
        }
      return cmd_run (&spec, argv[3], state_out, retry);
    }
  return usage ();
}
