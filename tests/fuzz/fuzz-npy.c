/* fuzz-npy.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The .npy preamble parser. A preamble that parses is rebuilt with
 * safetensors_npy_build_header() and parsed again: dtype and shape must
 * survive the round trip. */

#include <string.h>

#include "fuzz-common.h"
#include "safetensors-npy-private.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  return 0;
}

static void
check_error (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == SAFETENSORS_ERROR);
  g_assert_true (error->code == SAFETENSORS_ERROR_INVALID_DATA ||
                 error->code == SAFETENSORS_ERROR_UNSUPPORTED);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
check_round_trip (const SafetensorsNpyHeader *header)
{
  g_autoptr(SafetensorsNpyHeader) again = NULL;
  g_autoptr(GBytes) built = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *data;
  gsize len = 0;
  gsize header_size = 0;

  built = safetensors_npy_build_header (header->dtype, header->shape, header->n_dims, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (built, &len);

  /* np.save() pads the preamble to a multiple of 64. */
  g_assert_cmpuint (len % 64, ==, 0);
  again = safetensors_npy_parse_header (data, len, &header_size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (header_size, ==, len);
  g_assert_cmpint (again->dtype, ==, header->dtype);
  g_assert_false (again->fortran_order);
  g_assert_cmpuint (again->n_dims, ==, header->n_dims);
  if (header->n_dims > 0)
    g_assert_cmpmem (again->shape, again->n_dims * sizeof (guint64),
                     header->shape, header->n_dims * sizeof (guint64));
  g_assert_cmpuint (again->n_elements, ==, header->n_elements);
  g_assert_cmpuint (again->n_bytes, ==, header->n_bytes);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(SafetensorsNpyHeader) header = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *copy = g_memdup2 (data, size);
  gsize prefix_size = 0;
  gsize header_size = 0;
  gboolean has_size;
  guint64 n_elements = 1;

  /* The size is known from a prefix alone. */
  has_size = safetensors_npy_get_header_size (copy, MIN (size, SAFETENSORS_NPY_PREFIX_LEN),
                                              &prefix_size, &error);
  if (!has_size)
    {
      check_error (error);
      g_clear_error (&error);
    }

  header = safetensors_npy_parse_header (copy, size, &header_size, &error);
  g_assert_true ((header == NULL) == (error != NULL));
  if (header == NULL)
    {
      check_error (error);
      return 0;
    }

  g_assert_true (has_size);
  g_assert_cmpuint (header_size, ==, prefix_size);
  g_assert_cmpuint (header_size, ==, header->data_offset);
  g_assert_cmpuint (header_size, <=, size);
  g_assert_cmpuint (header->major_version, >=, 1);
  g_assert_cmpuint (header->major_version, <=, 3);
  g_assert_cmpuint (header->n_dims, <=, SAFETENSORS_NPY_MAX_RANK);
  g_assert_true ((header->shape == NULL) == (header->n_dims == 0));
  for (guint d = 0; d < header->n_dims; d++)
    {
      g_assert_cmpuint (header->shape[d], <=, G_MAXINT64);
      g_assert_true (g_uint64_checked_mul (&n_elements, n_elements, header->shape[d]));
    }
  g_assert_cmpuint (header->n_elements, ==, n_elements);
  g_assert_cmpuint (header->n_bytes, ==,
                    n_elements * (safetensors_dtype_get_bits (header->dtype) / 8));
  g_assert_cmpuint (safetensors_dtype_get_bits (header->dtype) % 8, ==, 0);
  g_assert_nonnull (safetensors_npy_dtype_to_descr (header->dtype));

  check_round_trip (header);

  return 0;
}
