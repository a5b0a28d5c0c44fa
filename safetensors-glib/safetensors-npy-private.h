/* safetensors-npy-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#include "safetensors-dtype.h"

G_BEGIN_DECLS

/* NumPy's .npy format (numpy/lib/format.py): the magic "\x93NUMPY", a
 * major and a minor version byte, the header length (u16 LE in 1.0, u32 LE
 * in 2.0 and 3.0), then the header: a Python dict literal such as
 *
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *
 * padded with spaces and ended by '\n', in Latin-1 (1.0, 2.0) or UTF-8
 * (3.0). The array's bytes follow. Only plain numeric and boolean arrays
 * with a safetensors dtype are supported. */

#define SAFETENSORS_NPY_MAGIC      "\x93NUMPY"
#define SAFETENSORS_NPY_MAGIC_LEN  6

/* Bytes that always suffice for safetensors_npy_get_header_size(). */
#define SAFETENSORS_NPY_PREFIX_LEN 12

/* Header texts longer than this are refused: NumPy itself refuses more
 * than 10 000 characters unless told to trust the file, and a rank-1024
 * shape takes about 22 KiB. */
#define SAFETENSORS_NPY_MAX_HEADER_LEN (1024 * 1024)

/* The same rank cap as safetensors headers. */
#define SAFETENSORS_NPY_MAX_RANK   1024

/* Fortran-ordered arrays are reordered in memory; larger ones are refused. */
#define SAFETENSORS_NPY_MAX_FORTRAN_BYTES (G_GUINT64_CONSTANT (1) << 30)

typedef struct
{
  guint8            major_version;  /* 1, 2 or 3 */
  SafetensorsDType  dtype;
  gboolean          big_endian;     /* elements need a byte swap to be little-endian */
  gboolean          fortran_order;
  guint             n_dims;
  guint64          *shape;          /* n_dims entries, NULL when n_dims == 0 */
  guint64           n_elements;
  guint64           n_bytes;        /* size of the array data */
  gsize             data_offset;    /* where the data starts: the size of the preamble */
} SafetensorsNpyHeader;

void                  safetensors_npy_header_free     (SafetensorsNpyHeader *header);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SafetensorsNpyHeader, safetensors_npy_header_free)

/* Reads the fixed part of the preamble (magic, version, header length) and
 * sets *out_header_size to the size of the whole preamble, i.e. where the
 * data starts. @len may be less than the preamble; 12 bytes
 * (SAFETENSORS_NPY_PREFIX_LEN) are always enough, fewer when the input is
 * shorter.
 *
 * Errors: INVALID_DATA for a wrong magic, a truncated prefix or a header
 * length above SAFETENSORS_NPY_MAX_HEADER_LEN; UNSUPPORTED for a version
 * other than 1.0, 2.0 and 3.0. */
gboolean              safetensors_npy_get_header_size (const guint8         *data,
                                                       gsize                 len,
                                                       gsize                *out_header_size,
                                                       GError              **error);

/* Parses the preamble of a .npy file held in @data (at least the whole
 * preamble; bytes after it are ignored). Strict: the header must be a dict
 * literal with exactly the keys 'descr', 'fortran_order' and 'shape' (in
 * any order, single or double quotes, trailing commas and whitespace
 * allowed, no escapes), 'shape' a tuple of non-negative integers below
 * 2^63 with at most SAFETENSORS_NPY_MAX_RANK entries, and the header ends
 * in '\n'. Python 2's 'L' suffix on integers is accepted in 1.0 and 2.0
 * files, as NumPy does.
 *
 * Supported descrs: '|b1', '|u1', '|i1' (any byte-order character), and
 * '<', '>' or '=' (native) with u2 i2 u4 i4 u8 i8 f2 f4 f8 c8.
 *
 * Errors: INVALID_DATA for malformed input, with a message naming what is
 * wrong (including a data size that does not fit in 64 bits);
 * UNSUPPORTED for a version or descr this library cannot represent,
 * naming it. Sets *out_header_size (optional) like
 * safetensors_npy_get_header_size(). */
SafetensorsNpyHeader *safetensors_npy_parse_header    (const guint8         *data,
                                                       gsize                 len,
                                                       gsize                *out_header_size,
                                                       GError              **error);

/* The descr NumPy writes for @dtype ("<f4", "|b1", …), or NULL when NumPy
 * has no such type (BF16, F8_*, F6_*, F4). */
const char           *safetensors_npy_dtype_to_descr  (SafetensorsDType      dtype);

/* Builds the preamble np.save() writes for a C-ordered array, byte for
 * byte: version 1.0 unless the header does not fit 65535 bytes, then 2.0;
 * padded so that the data starts at a multiple of 64.
 *
 * Errors: UNSUPPORTED when @dtype has no NumPy equivalent;
 * INVALID_ARGUMENT for a dimension NumPy cannot hold (2^63 and above) or
 * a header longer than SAFETENSORS_NPY_MAX_HEADER_LEN. */
GBytes               *safetensors_npy_build_header    (SafetensorsDType      dtype,
                                                       const guint64        *shape,
                                                       guint                 n_dims,
                                                       GError              **error);

/* The unit of a byte swap between little- and big-endian elements of
 * @dtype: the element size, except C64 whose two F32 halves are swapped
 * separately. 1 means nothing to swap. */
guint                 safetensors_npy_get_swap_size   (SafetensorsDType      dtype);

/* Reverses the bytes of every @swap_size-byte unit of @data in place.
 * @swap_size is 1, 2, 4 or 8 and divides @len. */
void                  safetensors_npy_byteswap        (guint8               *data,
                                                       gsize                 len,
                                                       guint                 swap_size);

/* Writes elements @first … @first + @n_elements - 1, in C order, of the
 * array of shape @shape whose elements are stored at @src in Fortran
 * order, to @dest. Working on ranges lets a caller reorder an array into
 * a bounded buffer, piece by piece. The whole range must lie inside the
 * array. */
void                  safetensors_npy_fortran_to_c    (const guint8         *src,
                                                       gsize                 element_size,
                                                       const guint64        *shape,
                                                       guint                 n_dims,
                                                       guint64               first,
                                                       guint8               *dest,
                                                       gsize                 n_elements);

G_END_DECLS
