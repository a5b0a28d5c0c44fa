/* safetensors-error.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <glib.h>

#include "safetensors-version-macros.h"

G_BEGIN_DECLS

/**
 * SAFETENSORS_ERROR:
 *
 * The error domain of safetensors-glib. Errors in this domain use codes
 * from [error@Safetensors.Error]. Failures of the operating system or of
 * GIO (a missing file, a full disk) are reported in the `G_IO_ERROR` domain.
 *
 * Since: 1.0
 */
#define SAFETENSORS_ERROR (safetensors_error_quark ())

/**
 * SafetensorsError:
 * @SAFETENSORS_ERROR_HEADER_TOO_SMALL: the file is shorter than the 8-byte
 *   header length
 * @SAFETENSORS_ERROR_HEADER_TOO_LARGE: the header length exceeds 100 000 000
 *   bytes
 * @SAFETENSORS_ERROR_INVALID_HEADER_LENGTH: the header length points past the
 *   end of the file
 * @SAFETENSORS_ERROR_INVALID_HEADER: the header is not valid UTF-8
 * @SAFETENSORS_ERROR_INVALID_JSON: the header is not strict JSON or does not
 *   follow the schema
 * @SAFETENSORS_ERROR_INVALID_OFFSET: tensor data offsets are not contiguous
 *   from 0, overlap, or end before they begin
 * @SAFETENSORS_ERROR_TENSOR_INVALID_INFO: a tensor's byte range does not match
 *   its dtype and shape
 * @SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER: the data area is shorter or
 *   longer than the tensors declare
 * @SAFETENSORS_ERROR_VALIDATION_OVERFLOW: a tensor's size does not fit in 64
 *   bits
 * @SAFETENSORS_ERROR_MISALIGNED_SLICE: a sub-byte tensor or slice does not
 *   start and end on a byte boundary
 * @SAFETENSORS_ERROR_DUPLICATE_NAME: a tensor name appears twice
 * @SAFETENSORS_ERROR_TENSOR_NOT_FOUND: no tensor has the requested name
 * @SAFETENSORS_ERROR_INVALID_SLICE: a slice is out of range or malformed
 * @SAFETENSORS_ERROR_READ_ONLY: a modification was requested on a file
 *   opened for reading
 * @SAFETENSORS_ERROR_LOCKED: another writer holds the file
 * @SAFETENSORS_ERROR_RESERVED_NAME: the name is reserved by the format or
 *   the library
 * @SAFETENSORS_ERROR_UNSAFE_PICKLE: a pickle asks for something that is not
 *   on the whitelist
 * @SAFETENSORS_ERROR_UNSUPPORTED: the input uses a feature this library does
 *   not support
 * @SAFETENSORS_ERROR_CORRUPT_JOURNAL: a rollback journal is damaged and was
 *   not applied
 * @SAFETENSORS_ERROR_INVALID_ARGUMENT: an argument given by the caller is
 *   not acceptable (wrong data size, bad shape, …)
 * @SAFETENSORS_ERROR_INVALID_DATA: an input other than a safetensors header
 *   (an array, an archive, an index) is malformed
 * @SAFETENSORS_ERROR_NEEDS_RECOVERY: a commit to the file was interrupted;
 *   opening it with %SAFETENSORS_OPEN_FLAGS_READ_WRITE (or
 *   `safetensors-tool recover FILE`) repairs it
 *
 * Error codes in the `SAFETENSORS_ERROR` domain. The first ten mirror
 * the variants of the reference implementation's reader.
 *
 * Since: 1.0
 */
typedef enum
{
  SAFETENSORS_ERROR_HEADER_TOO_SMALL,
  SAFETENSORS_ERROR_HEADER_TOO_LARGE,
  SAFETENSORS_ERROR_INVALID_HEADER_LENGTH,
  SAFETENSORS_ERROR_INVALID_HEADER,
  SAFETENSORS_ERROR_INVALID_JSON,
  SAFETENSORS_ERROR_INVALID_OFFSET,
  SAFETENSORS_ERROR_TENSOR_INVALID_INFO,
  SAFETENSORS_ERROR_METADATA_INCOMPLETE_BUFFER,
  SAFETENSORS_ERROR_VALIDATION_OVERFLOW,
  SAFETENSORS_ERROR_MISALIGNED_SLICE,
  SAFETENSORS_ERROR_DUPLICATE_NAME,
  SAFETENSORS_ERROR_TENSOR_NOT_FOUND,
  SAFETENSORS_ERROR_INVALID_SLICE,
  SAFETENSORS_ERROR_READ_ONLY,
  SAFETENSORS_ERROR_LOCKED,
  SAFETENSORS_ERROR_RESERVED_NAME,
  SAFETENSORS_ERROR_UNSAFE_PICKLE,
  SAFETENSORS_ERROR_UNSUPPORTED,
  SAFETENSORS_ERROR_CORRUPT_JOURNAL,
  SAFETENSORS_ERROR_INVALID_ARGUMENT,
  SAFETENSORS_ERROR_INVALID_DATA,
  SAFETENSORS_ERROR_NEEDS_RECOVERY,
} SafetensorsError;

SAFETENSORS_AVAILABLE_IN_ALL
GQuark safetensors_error_quark (void);

G_END_DECLS
