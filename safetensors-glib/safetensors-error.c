/* safetensors-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-error-private.h"

/**
 * safetensors_error_quark:
 *
 * Gets the quark of the `SAFETENSORS_ERROR` domain.
 *
 * Returns: the error quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (safetensors-error-quark, safetensors_error)

gboolean
safetensors_set_invalid_data (GError     **error,
                              const char  *format,
                              ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA,
                                                format, args));
  va_end (args);
  return FALSE;
}

gboolean
safetensors_set_invalid_data_for (GError     **error,
                                  const char  *display_name,
                                  const char  *format,
                                  ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, SAFETENSORS_ERROR, SAFETENSORS_ERROR_INVALID_DATA, "%s: %s",
               display_name, message);
  return FALSE;
}
