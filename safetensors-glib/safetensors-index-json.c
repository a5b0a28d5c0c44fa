/* safetensors-index-json.c — reading a `.index.json` file strictly
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * json-glib would accept comments, single quotes and repeated keys (the
 * last one winning), read 18446744073709551615 as -1 and recurse without
 * limit: an index is untrusted input, so it goes through the scanner the
 * header parser uses, and every member is checked as it is read.
 */

#include <string.h>

#include "safetensors-error-private.h"
#include "safetensors-index-private.h"
#include "safetensors-json-scanner-private.h"

void
safetensors_index_contents_free (SafetensorsIndexContents *contents)
{
  if (contents == NULL)
    return;

  g_clear_pointer (&contents->weight_map, g_hash_table_unref);
  g_clear_pointer (&contents->metadata, g_hash_table_unref);
  g_free (contents);
}

static gboolean
key_is (const char *key,
        gsize       key_len,
        const char *word)
{
  return key_len == strlen (word) && memcmp (key, word, key_len) == 0;
}

gboolean
safetensors_index_is_shard_name (const char *name,
                                 gsize       len)
{
  return len > 0 && memchr (name, '\0', len) == NULL && memchr (name, '/', len) == NULL &&
         memchr (name, '\\', len) == NULL && !key_is (name, len, ".") && !key_is (name, len, "..");
}

/* A name read from the text, which must not hide a NUL (from \u0000):
 * C callers would see it cut short. */
static char *
dup_name (SafetensorsJsonScanner  *s,
          const char              *name,
          gsize                    len,
          const char              *what,
          GError                 **error)
{
  if (memchr (name, '\0', len) != NULL)
    {
      g_autofree char *shown = g_strndup (name, len);

      safetensors_set_invalid_data_for (error, s->display_name, "%s “%s…” holds a NUL character",
                                        what, shown);
      return NULL;
    }
  return g_strndup (name, len);
}

/* The text of the value the scanner is at, as written (for metadata values
 * that are not strings). */
static char *
read_value_text (SafetensorsJsonScanner  *s,
                 GError                 **error)
{
  gsize start;

  safetensors_json_scanner_peek (s);   /* skips whitespace */
  start = safetensors_json_scanner_get_offset (s);
  if (!safetensors_json_scanner_skip_value (s, error))
    return NULL;
  return g_strndup ((const char *) s->start + start,
                    safetensors_json_scanner_get_offset (s) - start);
}

static gboolean
read_total_size (SafetensorsJsonScanner    *s,
                 SafetensorsIndexContents  *contents,
                 GError                   **error)
{
  gboolean is_u64 = FALSE;
  int c = safetensors_json_scanner_peek (s);

  if ((c == '-' || g_ascii_isdigit (c)) &&
      !safetensors_json_scanner_read_number (s, &contents->total_size, &is_u64, error))
    return FALSE;
  if (!is_u64)
    return safetensors_set_invalid_data_for (error, s->display_name,
                                             "“total_size” is not a non-negative integer");
  contents->has_total_size = TRUE;
  return TRUE;
}

/* "metadata": null, or an object of any values; "total_size" must be a
 * size. */
static gboolean
read_metadata (SafetensorsJsonScanner    *s,
               SafetensorsIndexContents  *contents,
               GError                   **error)
{
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  const char *key;
  gsize key_len;
  int c = safetensors_json_scanner_peek (s);

  if (c == 'n')
    return safetensors_json_scanner_read_literal (s, "null", error);
  if (c != '{')
    return safetensors_set_invalid_data_for (error, s->display_name, "“metadata” is not an object");
  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) ==
         SAFETENSORS_JSON_NEXT_ITEM)
    {
      g_autofree char *name = dup_name (s, key, key_len, "metadata key", error);
      char *text;

      if (name == NULL)
        return FALSE;
      if (g_hash_table_contains (contents->metadata, name))
        return safetensors_set_invalid_data_for (error, s->display_name,
                                                 "metadata key “%s” appears twice", name);

      if (g_str_equal (name, "total_size"))
        {
          if (!read_total_size (s, contents, error))
            return FALSE;
          text = g_strdup_printf ("%" G_GUINT64_FORMAT, contents->total_size);
        }
      else if (safetensors_json_scanner_peek (s) == '"')
        {
          const char *value;
          gsize value_len;

          if (!safetensors_json_scanner_read_string (s, &value, &value_len, error))
            return FALSE;
          text = dup_name (s, value, value_len, "metadata value", error);
          if (text == NULL)
            return FALSE;
        }
      else
        {
          text = read_value_text (s, error);
          if (text == NULL)
            return FALSE;
        }
      g_hash_table_insert (contents->metadata, g_steal_pointer (&name), text);
    }

  return next == SAFETENSORS_JSON_NEXT_END;
}

static gboolean
read_weight_map (SafetensorsJsonScanner    *s,
                 SafetensorsIndexContents  *contents,
                 GError                   **error)
{
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  const char *key;
  gsize key_len;

  if (safetensors_json_scanner_peek (s) != '{')
    return safetensors_set_invalid_data_for (error, s->display_name,
                                             "“weight_map” is not an object");
  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) ==
         SAFETENSORS_JSON_NEXT_ITEM)
    {
      g_autofree char *name = dup_name (s, key, key_len, "tensor", error);
      const char *shard;
      gsize shard_len;

      if (name == NULL)
        return FALSE;
      if (g_hash_table_contains (contents->weight_map, name))
        return safetensors_set_invalid_data_for (error, s->display_name,
                                                 "tensor “%s” appears twice in the weight map",
                                                 name);
      if (safetensors_json_scanner_peek (s) != '"')
        return safetensors_set_invalid_data_for (error, s->display_name,
                                                 "the shard of tensor “%s” is not a string", name);
      if (!safetensors_json_scanner_read_string (s, &shard, &shard_len, error))
        return FALSE;
      if (!safetensors_index_is_shard_name (shard, shard_len))
        {
          g_autofree char *shown = g_strndup (shard, shard_len);

          return safetensors_set_invalid_data_for (error, s->display_name,
                                                   "tensor “%s”: “%s” is not a file in the "
                                                   "index's folder",
                                                   name, shown);
        }
      g_hash_table_insert (contents->weight_map, g_steal_pointer (&name),
                           g_strndup (shard, shard_len));
    }

  return next == SAFETENSORS_JSON_NEXT_END;
}

static gboolean
read_index (SafetensorsJsonScanner    *s,
            SafetensorsIndexContents  *contents,
            GError                   **error)
{
  SafetensorsJsonNext next;
  gboolean first = TRUE;
  gboolean has_metadata = FALSE, has_weight_map = FALSE;
  const char *key;
  gsize key_len;

  if (safetensors_json_scanner_peek (s) != '{')
    return safetensors_set_invalid_data_for (error, s->display_name, "not a JSON object");
  if (!safetensors_json_scanner_enter (s, error))
    return FALSE;

  while ((next = safetensors_json_scanner_next_member (s, &first, &key, &key_len, error)) ==
         SAFETENSORS_JSON_NEXT_ITEM)
    {
      gboolean ok;

      if (key_is (key, key_len, "metadata"))
        {
          if (has_metadata)
            return safetensors_set_invalid_data_for (error, s->display_name,
                                                     "“metadata” appears twice");
          has_metadata = TRUE;
          ok = read_metadata (s, contents, error);
        }
      else if (key_is (key, key_len, "weight_map"))
        {
          if (has_weight_map)
            return safetensors_set_invalid_data_for (error, s->display_name,
                                                     "“weight_map” appears twice");
          has_weight_map = TRUE;
          ok = read_weight_map (s, contents, error);
        }
      else
        {
          ok = safetensors_json_scanner_skip_value (s, error);
        }
      if (!ok)
        return FALSE;
    }
  if (next == SAFETENSORS_JSON_NEXT_ERROR || !safetensors_json_scanner_finish (s, error))
    return FALSE;

  if (!has_weight_map)
    return safetensors_set_invalid_data_for (error, s->display_name, "no “weight_map” object");
  return TRUE;
}

SafetensorsIndexContents *
safetensors_index_contents_parse (const char  *display_name,
                                  const char  *text,
                                  gsize        len,
                                  GError     **error)
{
  g_autoptr(SafetensorsIndexContents) contents = g_new0 (SafetensorsIndexContents, 1);
  SafetensorsJsonScanner scanner;
  gboolean ok;

  contents->weight_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  contents->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!g_utf8_validate_len (text, len, NULL))
    {
      safetensors_set_invalid_data_for (error, display_name, "not UTF-8");
      return NULL;
    }

  safetensors_json_scanner_init (&scanner, display_name, (const guint8 *) text, len);
  scanner.what = "index";
  scanner.error_code = SAFETENSORS_ERROR_INVALID_DATA;
  ok = read_index (&scanner, contents, error);
  safetensors_json_scanner_clear (&scanner);

  return ok ? g_steal_pointer (&contents) : NULL;
}
