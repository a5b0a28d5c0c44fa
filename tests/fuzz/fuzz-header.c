/* fuzz-header.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Header parsing and validation, and reading what a valid header
 * describes. Each input is used twice:
 *
 *  - as a whole file: the private prefix and header checks predict the
 *    error code, or success, that opening it must give on every backend
 *    (mmap, pread, stream); a file that opens is read entirely;
 *  - as the JSON text of a header: when it parses, it is wrapped in a
 *    file with a data area of the size it declares, which must open, and
 *    is read entirely.
 *
 * The second way lets mutations of the JSON reach the readers without
 * having to keep a length prefix and a file size in step. */

#include <string.h>

#include "fuzz-common.h"
#include "safetensors-header-private.h"

/* Headers whose data area is larger are only parsed. */
#define MAX_SYNTHETIC_DATA (64 * 1024)

static FuzzScratch scratch;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  fuzz_scratch_init (&scratch);
  return 0;
}

/* Names can hold U+0000 (from \u0000): valid UTF-8 around NUL bytes. */
static gboolean
utf8_validate_with_nuls (const char *str,
                         gsize       len)
{
  const char *end = str + len;

  while (str < end)
    {
      const char *stop = NULL;

      if (g_utf8_validate_len (str, end - str, &stop))
        return TRUE;
      if (*stop != '\0')
        return FALSE;
      str = stop + 1;
    }

  return TRUE;
}

/* Parses @len bytes of header text from a copy of exactly that size, so
 * that reading past it is caught, and checks the result's invariants.
 *
 * The copy is never NULL, even when empty: safetensors_header_parse()
 * allows NULL for an empty text but then computes NULL + 0, which clang's
 * UBSan rejects. Opening a file never passes NULL. */
static SafetensorsHeader *
parse_header (const guint8  *text,
              gsize          len,
              GError       **error)
{
  g_autofree guint8 *copy = g_malloc (MAX (len, 1));
  SafetensorsHeader *header;
  guint64 expected_begin = 0;

  if (len > 0)
    memcpy (copy, text, len);

  header = safetensors_header_parse ("fuzz", copy, len, error);
  g_assert_true ((header == NULL) == (*error != NULL));
  if (header == NULL)
    {
      g_assert_true ((*error)->domain == SAFETENSORS_ERROR);
      g_assert_cmpint ((*error)->code, <=, SAFETENSORS_ERROR_DUPLICATE_NAME);
      g_assert_cmpint ((*error)->code, !=, SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER);
      g_assert_true (g_utf8_validate ((*error)->message, -1, NULL));
      return NULL;
    }

  for (guint i = 0; i < header->tensors->len; i++)
    {
      const SafetensorsTensorInfo *info = g_ptr_array_index (header->tensors, i);
      guint64 n_bits = 0;

      g_assert_true (utf8_validate_with_nuls (info->name, info->name_len));
      g_assert_cmpuint (strlen (info->name), <=, info->name_len);
      g_assert_true ((info->shape == NULL) == (info->n_dims == 0));
      g_assert_cmpuint (info->n_dims, <=, SAFETENSORS_HEADER_MAX_RANK);
      g_assert_cmpuint (info->begin, ==, expected_begin);
      g_assert_cmpuint (info->end, >=, info->begin);
      g_assert_true (g_uint64_checked_mul (&n_bits, info->n_elements,
                                           safetensors_dtype_get_bits (info->dtype)));
      g_assert_cmpuint (n_bits, ==, (info->end - info->begin) * 8);
      expected_begin = info->end;
    }
  g_assert_cmpuint (header->data_size, ==, expected_begin);

  if (header->metadata != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, header->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          g_assert_true (g_utf8_validate (key, -1, NULL));
          g_assert_true (g_utf8_validate (value, -1, NULL));
        }
    }

  return header;
}

/* The error code opening @data as a file must give, or -1 for success. */
static int
predict_open (const guint8 *data,
              gsize         size)
{
  g_autoptr(SafetensorsHeader) header = NULL;
  g_autoptr(GError) error = NULL;
  guint64 header_len = 0;

  if (!safetensors_header_check_prefix ("fuzz", data, size, &header_len, &error))
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == SAFETENSORS_ERROR);
      g_assert_cmpint (error->code, <=, SAFETENSORS_ERROR_INVALID_HEADER_LENGTH);
      return error->code;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (header_len, <=, size - 8);

  header = parse_header (data + 8, header_len, &error);
  if (header == NULL)
    return error->code;

  if (header->data_size != size - 8 - header_len)
    return SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER;

  return -1;
}

/* Opens the scratch file, holding @data, on every backend: each gives
 * @expected and, when it opens, what it reads matches @data. */
static void
open_everywhere (const guint8 *data,
                 gsize         size,
                 int           expected)
{
  fuzz_scratch_write (&scratch, data, size);

  for (FuzzBackend backend = 0; backend < FUZZ_N_BACKENDS; backend++)
    {
      g_autoptr(SafetensorsFile) file = NULL;
      g_autoptr(GError) error = NULL;

      file = fuzz_open (scratch.path, backend, &error);
      if (expected >= 0)
        {
          g_assert_error (error, SAFETENSORS_ERROR, expected);
          g_assert_true (g_utf8_validate (error->message, -1, NULL));
          continue;
        }

      g_assert_no_error (error);
      fuzz_check_file (file, data, size);
      g_assert_finalize_object (g_steal_pointer (&file));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(SafetensorsHeader) header = NULL;
  g_autoptr(GError) error = NULL;

  open_everywhere (data, size, predict_open (data, size));

  header = parse_header (data, size, &error);
  if (header != NULL && header->data_size <= MAX_SYNTHETIC_DATA)
    {
      g_autofree guint8 *file = g_malloc (8 + size + header->data_size);
      guint64 len = GUINT64_TO_LE ((guint64) size);

      memcpy (file, &len, 8);
      memcpy (file + 8, data, size);
      for (guint64 i = 0; i < header->data_size; i++)
        file[8 + size + i] = (guint8) (i * 151 + 7);

      open_everywhere (file, 8 + size + header->data_size, -1);
    }

  return 0;
}
