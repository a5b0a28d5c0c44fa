/* safetensors-glib.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#define SAFETENSORS_INSIDE
# include "safetensors-version-macros.h"
# include "safetensors-version.h"
# include "safetensors-enums.h"
# include "safetensors-dtype.h"
# include "safetensors-error.h"
# include "safetensors-slice.h"
# include "safetensors-tensor.h"
# include "safetensors-file.h"
# include "safetensors-writer.h"
# include "safetensors-torch.h"
# include "safetensors-pytorch-import.h"
# include "safetensors-index.h"
#undef SAFETENSORS_INSIDE
