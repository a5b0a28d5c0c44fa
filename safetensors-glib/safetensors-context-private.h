/* safetensors-context-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Calls @func (@data) from @context's main loop, later, whatever thread
 * this is; @notify frees @data there after the call.
 *
 * Unlike g_main_context_invoke_full(), never calls @func right away in
 * this thread: that function does so when nobody owns @context at the
 * time, which would run a caller's callback (or a property notification)
 * in a worker thread whenever the caller is not iterating its loop yet. */
void safetensors_call_in_context (GMainContext   *context,
                                  GSourceFunc     func,
                                  gpointer        data,
                                  GDestroyNotify  notify);

/* Notifies @pspec of @object: at once when @context is NULL (the work
 * runs in the caller's thread), else from @context's loop, as above. For
 * progress properties updated by a worker thread. */
void safetensors_notify_in_context (GMainContext *context,
                                    GObject      *object,
                                    GParamSpec   *pspec);

G_END_DECLS
