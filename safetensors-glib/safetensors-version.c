/* safetensors-version.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-version.h"

/**
 * safetensors_get_major_version:
 *
 * Gets the major version of the library in use at run time, which may
 * differ from [const@Safetensors.MAJOR_VERSION] seen at compile time.
 *
 * Returns: the major version
 *
 * Since: 1.0
 */
guint
safetensors_get_major_version (void)
{
  return SAFETENSORS_MAJOR_VERSION;
}

/**
 * safetensors_get_minor_version:
 *
 * Gets the minor version of the library in use at run time.
 *
 * Returns: the minor version
 *
 * Since: 1.0
 */
guint
safetensors_get_minor_version (void)
{
  return SAFETENSORS_MINOR_VERSION;
}

/**
 * safetensors_get_micro_version:
 *
 * Gets the micro version of the library in use at run time.
 *
 * Returns: the micro version
 *
 * Since: 1.0
 */
guint
safetensors_get_micro_version (void)
{
  return SAFETENSORS_MICRO_VERSION;
}
