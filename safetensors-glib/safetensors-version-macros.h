/* safetensors-version-macros.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined (SAFETENSORS_INSIDE) && !defined (SAFETENSORS_COMPILATION)
# error "Only <safetensors-glib/safetensors-glib.h> can be included directly."
#endif

#include <glib.h>

#ifndef _SAFETENSORS_EXTERN
# define _SAFETENSORS_EXTERN __attribute__((visibility("default"))) extern
#endif

#define SAFETENSORS_AVAILABLE_IN_ALL _SAFETENSORS_EXTERN
