/* fuzz-zip.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A whole PyTorch import: each input is a checkpoint file (a zip archive
 * as torch.save () writes it, or a legacy pickle stream), opened, planned
 * with every flag and written to a temporary output. Failures must be
 * SafetensorsErrors of the documented codes that name the file, and leave
 * nothing in the output folder; an output must open with the strict
 * reader and hold what a naive strided gather of the storages gives
 * (fuzz-torch-common.c).
 *
 * Mutations almost always break the CRC of the entry they touch, which
 * would keep them from reaching what reads the entry: an input whose
 * entries' CRCs are wrong is run a second time with them corrected. */

#include <string.h>
#include <unistd.h>

#include "fuzz-torch-common.h"
#include "safetensors-zip-private.h"

/* Deflated entries larger than this keep their CRC. */
#define MAX_INFLATE (4u << 20)

static FuzzScratch scratch;
static char *out_dir;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init ();
  fuzz_use_memory_tmpdir ();
  fuzz_scratch_init (&scratch);
  out_dir = fuzz_torch_make_out_dir ();
  return 0;
}

static guint32
get16 (const guint8 *p)
{
  return p[0] | (p[1] << 8);
}

static guint32
get32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static void
put32 (guint8  *p,
       guint32  value)
{
  for (guint i = 0; i < 4; i++)
    p[i] = (value >> (8 * i)) & 0xff;
}

/* The CRC of a deflated entry's contents, if it inflates. */
static gboolean
inflated_crc (const guint8 *data,
              gsize         len,
              guint32       declared_size,
              guint32      *out_crc)
{
  g_autoptr(GConverter) inflater = G_CONVERTER (g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW));
  guint8 out[16384];
  guint32 crc = 0;
  gsize produced = 0;
  GConverterResult result = G_CONVERTER_CONVERTED;

  if (declared_size > MAX_INFLATE)
    return FALSE;
  while (result != G_CONVERTER_FINISHED)
    {
      gsize n_read = 0, n_written = 0;

      result = g_converter_convert (inflater, data, len, out, sizeof out, G_CONVERTER_INPUT_AT_END,
                                    &n_read, &n_written, NULL);
      if (result == G_CONVERTER_ERROR || (n_read == 0 && n_written == 0 && result != G_CONVERTER_FINISHED))
        return FALSE;
      data += n_read;
      len -= n_read;
      produced += n_written;
      if (produced > declared_size)
        return FALSE;
      crc = safetensors_zip_crc32 (crc, out, n_written);
    }
  *out_crc = crc;
  return TRUE;
}

/* Sets the CRC of each entry of the central directory (and of its local
 * header) to that of its contents, as far as a plain reading of the
 * archive finds them. Returns whether anything changed. */
static gboolean
fix_crcs (guint8 *data,
          gsize   size)
{
  gsize eocd = G_MAXSIZE;
  guint64 cd_offset, cd_end, pos;
  guint n_entries;
  gboolean changed = FALSE;

  for (gsize p = size >= 22 ? size - 22 + 1 : 0; p-- > 0;)
    if (get32 (data + p) == 0x06054b50)
      {
        eocd = p;
        break;
      }
  if (eocd == G_MAXSIZE)
    return FALSE;

  n_entries = get16 (data + eocd + 10);
  cd_offset = get32 (data + eocd + 16);
  cd_end = cd_offset + get32 (data + eocd + 12);
  if (cd_end > eocd)
    return FALSE;

  pos = cd_offset;
  for (guint i = 0; i < n_entries && cd_end - pos >= 46; i++)
    {
      guint8 *central = data + pos;
      guint32 method, csize, usize, offset, crc = 0;
      guint64 data_offset;
      gboolean known;

      if (get32 (central) != 0x02014b50)
        break;
      method = get16 (central + 10);
      csize = get32 (central + 20);
      usize = get32 (central + 24);
      offset = get32 (central + 42);
      pos += 46 + (guint64) get16 (central + 28) + get16 (central + 30) + get16 (central + 32);
      if (pos > cd_end)
        break;

      if (csize == 0xffffffffu || (guint64) offset + 30 > cd_offset ||
          get32 (data + offset) != 0x04034b50)
        continue;
      data_offset = (guint64) offset + 30 + get16 (data + offset + 26) + get16 (data + offset + 28);
      if (data_offset + csize > cd_offset)
        continue;

      if (method == 0)
        {
          crc = safetensors_zip_crc32 (0, data + data_offset, csize);
          known = TRUE;
        }
      else
        known = method == 8 && inflated_crc (data + data_offset, csize, usize, &crc);

      if (known && crc != get32 (central + 16))
        {
          put32 (central + 16, crc);
          put32 (data + offset + 14, crc);
          changed = TRUE;
        }
    }

  return changed;
}

static void
run (const guint8 *data,
     gsize         size)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(SafetensorsTorchCheckpoint) checkpoint = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *display_name = NULL;

  fuzz_scratch_write (&scratch, data, size);
  file = g_file_new_for_path (scratch.path);
  display_name = g_file_get_parse_name (file);

  checkpoint = safetensors_torch_checkpoint_open (file, NULL, &error);
  g_assert_true ((checkpoint == NULL) == (error != NULL));
  if (checkpoint == NULL)
    {
      fuzz_torch_check_error (error, display_name);
      return;
    }

  g_assert_cmpstr (safetensors_torch_checkpoint_get_display_name (checkpoint), ==, display_name);
  g_assert_cmpuint (safetensors_torch_checkpoint_get_size (checkpoint), ==, size);
  fuzz_torch_check_checkpoint (checkpoint, out_dir, FALSE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree guint8 *copy = g_memdup2 (data, size);

  run (copy, size);
  if (size > 0 && fix_crcs (copy, size))
    run (copy, size);

  return 0;
}
