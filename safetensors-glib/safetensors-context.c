/* safetensors-context.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "safetensors-context-private.h"

void
safetensors_call_in_context (GMainContext   *context,
                             GSourceFunc     func,
                             gpointer        data,
                             GDestroyNotify  notify)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[safetensors-glib] call in context");
  g_source_attach (source, context);
  g_source_unref (source);
}
