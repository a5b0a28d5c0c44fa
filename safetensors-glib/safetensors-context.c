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

typedef struct
{
  GObject    *object;
  GParamSpec *pspec;
} Notification;

static gboolean
deliver_notification (gpointer data)
{
  Notification *notification = data;

  g_object_notify_by_pspec (notification->object, notification->pspec);
  return G_SOURCE_REMOVE;
}

static void
notification_free (gpointer data)
{
  Notification *notification = data;

  g_object_unref (notification->object);
  g_free (notification);
}

void
safetensors_notify_in_context (GMainContext *context,
                               GObject      *object,
                               GParamSpec   *pspec)
{
  Notification *notification;

  if (context == NULL)
    {
      g_object_notify_by_pspec (object, pspec);
      return;
    }

  notification = g_new (Notification, 1);
  notification->object = g_object_ref (object);
  notification->pspec = pspec;
  safetensors_call_in_context (context, deliver_notification, notification, notification_free);
}
