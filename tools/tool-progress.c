/* tool-progress.c — a progress bar on stderr for the commands that copy data
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tool-progress.h"

/* Redraws at most this often (µs): a terminal is slow, and a bar that
 * flickers is unreadable. */
#define REDRAW_INTERVAL 100000
#define MAX_BAR_CELLS   30
#define MIN_BAR_CELLS   5
#define DEFAULT_COLUMNS 80
/* Room kept for the text after the bar, so that the bar keeps its width
 * while the numbers change: "1023.9 MiB / 1023.9 MiB  1023.9 MiB/s  ETA 9:59". */
#define TAIL_WIDTH      48

struct _ToolProgress
{
  gboolean enabled;
  gboolean shown;      /* a line is on the screen, not yet ended */
  gboolean finished;

  gboolean has_total;  /* counting bytes; else only a fraction is known */
  guint64  total;
  guint64  done;
  guint64  base;       /* where the current part starts */
  double   fraction;

  gint64   start;
  gint64   last_draw;
  glong    last_width; /* characters of the line on the screen */
};

/**
 * tool_progress_new:
 * @quiet: whether the user asked for no progress (--quiet)
 *
 * Returns: (transfer full): a bar, which shows something only when stderr
 *   is a terminal and @quiet is %FALSE
 */
ToolProgress *
tool_progress_new (gboolean quiet)
{
  ToolProgress *self = g_new0 (ToolProgress, 1);

  self->enabled = !quiet && isatty (STDERR_FILENO);
  self->start = g_get_monotonic_time ();
  return self;
}

void
tool_progress_free (ToolProgress *self)
{
  g_free (self);
}

gboolean
tool_progress_is_enabled (ToolProgress *self)
{
  return self->enabled;
}

static guint
terminal_columns (void)
{
  struct winsize size;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  return DEFAULT_COLUMNS;
}

static void
append_size (GString *out,
             guint64  n_bytes)
{
  g_autofree char *text = g_format_size_full (n_bytes, G_FORMAT_SIZE_IEC_UNITS);
  /* GLib puts a no-break space (U+00A0) before the unit: a plain one
   * reads the same, in any locale. */
  g_auto(GStrv) words = g_strsplit (text, "\xc2\xa0", -1);
  g_autofree char *ascii = g_strjoinv (" ", words);

  g_string_append (out, ascii);
}

static void
append_duration (GString *out,
                 double   seconds)
{
  guint64 s = seconds < 0 ? 0 : (guint64) (seconds + 0.5);

  if (s >= 3600)
    g_string_append_printf (out, "%" G_GUINT64_FORMAT ":%02u:%02u",
                            s / 3600, (guint) (s / 60 % 60), (guint) (s % 60));
  else
    g_string_append_printf (out, "%u:%02u", (guint) (s / 60), (guint) (s % 60));
}

/* "\r 42% [############                  ] 1.2 MiB / 2.9 MiB  3.4 MiB/s  ETA 0:02",
 * padded with spaces over what a longer previous line left. */
static void
draw (ToolProgress *self,
      gboolean      complete)
{
  g_autoptr(GString) tail = g_string_new (NULL);
  g_autoptr(GString) line = g_string_new ("\r");
  gint64 now = g_get_monotonic_time ();
  double elapsed = (now - self->start) / (double) G_USEC_PER_SEC;
  double fraction;
  glong columns, tail_width, width, cells;

  if (self->has_total)
    fraction = self->total > 0 ? (double) self->done / self->total : 1.0;
  else
    fraction = self->fraction;
  fraction = CLAMP (fraction, 0.0, 1.0);

  if (self->has_total)
    {
      g_string_append_c (tail, ' ');
      append_size (tail, self->done);
      g_string_append (tail, " / ");
      append_size (tail, self->total);
      if (elapsed > 0 && self->done > 0)
        {
          g_string_append (tail, "  ");
          append_size (tail, (guint64) (self->done / elapsed));
          g_string_append (tail, "/s");
        }
    }
  if (complete)
    {
      g_string_append (tail, "  in ");
      append_duration (tail, elapsed);
    }
  else if (fraction > 0 && elapsed >= 0.5)
    {
      g_string_append (tail, "  ETA ");
      append_duration (tail, elapsed * (1 - fraction) / fraction);
    }

  g_string_append_printf (line, "%3d%%", (int) (fraction * 100));
  /* The bar takes what the terminal has left, up to MAX_BAR_CELLS; the
   * line stays shorter than the terminal, or "\r" would not get back to
   * its start. */
  columns = terminal_columns ();
  tail_width = g_utf8_strlen (tail->str, -1);
  cells = MIN (columns - 1 - 4 - 3 - MAX (tail_width, TAIL_WIDTH), MAX_BAR_CELLS);
  if (cells >= MIN_BAR_CELLS)
    {
      glong filled = (glong) (fraction * cells);

      g_string_append (line, " [");
      for (glong i = 0; i < cells; i++)
        g_string_append_c (line, i < filled ? '#' : ' ');
      g_string_append_c (line, ']');
    }
  g_string_append (line, tail->str);

  width = g_utf8_strlen (line->str, -1) - 1;
  for (glong i = width; i < self->last_width; i++)
    g_string_append_c (line, ' ');
  self->last_width = width;

  fwrite (line->str, 1, line->len, stderr);
  fflush (stderr);
  self->shown = TRUE;
  self->last_draw = now;
}

static void
maybe_draw (ToolProgress *self)
{
  if (!self->enabled || self->finished)
    return;
  if (self->shown && g_get_monotonic_time () - self->last_draw < REDRAW_INTERVAL)
    return;
  draw (self, FALSE);
}

/**
 * tool_progress_set_total:
 * @self: a bar
 * @total: bytes of the whole work
 *
 * Switches the bar to counting bytes.
 */
void
tool_progress_set_total (ToolProgress *self,
                         guint64       total)
{
  self->has_total = TRUE;
  self->total = total;
}

void
tool_progress_set_done (ToolProgress *self,
                        guint64       done)
{
  self->done = done;
  maybe_draw (self);
}

/* For work whose size in bytes is not known, such as a commit. */
void
tool_progress_set_fraction (ToolProgress *self,
                            double        fraction)
{
  self->fraction = fraction;
  maybe_draw (self);
}

void
tool_progress_begin_part (ToolProgress *self)
{
  self->base = self->done;
}

void
tool_progress_finish (ToolProgress *self,
                      gboolean      success)
{
  if (!self->enabled || self->finished)
    return;
  self->finished = TRUE;

  if (success)
    {
      if (self->has_total)
        self->done = self->total;
      self->fraction = 1.0;
      draw (self, TRUE);
      fputs ("\n", stderr);
    }
  else if (self->shown)
    {
      /* Erase it: the error message that follows gets a clean line. */
      g_autoptr(GString) blank = g_string_new ("\r");

      for (glong i = 0; i < self->last_width; i++)
        g_string_append_c (blank, ' ');
      g_string_append_c (blank, '\r');
      fwrite (blank->str, 1, blank->len, stderr);
    }
  fflush (stderr);
  self->shown = FALSE;
}

static void
on_bytes_written (SafetensorsWriter *writer,
                  GParamSpec        *pspec,
                  gpointer           user_data)
{
  ToolProgress *self = user_data;

  tool_progress_set_done (self, self->base + safetensors_writer_get_bytes_written (writer));
}

/* The writer must not outlive @self: the handler goes with the writer. */
void
tool_progress_watch_writer (ToolProgress      *self,
                            SafetensorsWriter *writer)
{
  if (!self->enabled)
    return;
  tool_progress_begin_part (self);
  g_signal_connect (writer, "notify::bytes-written", G_CALLBACK (on_bytes_written), self);
}

static void
on_commit_progress (SafetensorsFile *file,
                    GParamSpec      *pspec,
                    gpointer         user_data)
{
  double fraction = 0;

  g_object_get (file, "commit-progress", &fraction, NULL);
  tool_progress_set_fraction (user_data, fraction);
}

/* The file must not commit after @self is freed. */
void
tool_progress_watch_commit (ToolProgress    *self,
                            SafetensorsFile *file)
{
  if (!self->enabled)
    return;
  g_signal_connect (file, "notify::commit-progress", G_CALLBACK (on_commit_progress), self);
}

void
tool_progress_file_callback (goffset  current,
                             goffset  total,
                             gpointer user_data)
{
  ToolProgress *self = user_data;

  tool_progress_set_done (self, self->base + (guint64) current);
}
