/* safetensors-file-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "safetensors-file.h"
#include "safetensors-layout-private.h"
#include "safetensors-storage-private.h"

G_BEGIN_DECLS

/* Filler entries of the keep-free policy: "__free_<n>__", U8, one
 * dimension. The API never shows them. */
gboolean safetensors_is_filler_name (const char *name);

/* What a commit or rollback needs to know about one committed tensor. */
typedef struct
{
  SafetensorsTensor *tensor;
  char              *name;
  guint64            begin;
} CommittedTensor;

struct _SafetensorsFile
{
  GObject               parent_instance;

  GFile                *file;
  SafetensorsOpenFlags  flags;
  SafetensorsStorage   *storage;
  GBytes               *header_bytes;
  GPtrArray            *tensors;      /* SafetensorsTensor*: offset order, then staged ones */
  GHashTable           *by_name;      /* name → SafetensorsTensor* (borrowed) */
  GHashTable           *metadata;     /* char* → char*, never NULL */

  /* Editing (READ_WRITE). The fields above show the staged state; these
   * keep the committed one for rollback. */
  gboolean              closed;
  gboolean              dirty;
  gboolean              committing;
  GArray               *committed;    /* CommittedTensor */
  GHashTable           *committed_metadata;
  guint64               committed_size;
  guint64               data_start;
  guint64               staged_end;   /* where the next staged tensor goes */
  guint64               staged_bytes; /* new tensor bytes written this transaction */
  SafetensorsCommitStats last_stats;

  /* Keep-free policy: the committed filler ranges, and what of them this
   * transaction has not used yet for new tensors. */
  GArray               *fillers;      /* SafetensorsRange */
  GArray               *free_ranges;  /* SafetensorsRange */
  gboolean              compacting;
  gboolean              journal_active; /* a hot journal exists for this transaction */
  double                commit_progress;
};

/* safetensors-file.c */
gboolean safetensors_file_check_writable  (SafetensorsFile  *self,
                                           GError          **error);
void     safetensors_file_snapshot        (SafetensorsFile  *self);
void     safetensors_file_emit_changed    (SafetensorsFile  *self,
                                           guint             old_n_items);

void     safetensors_file_set_commit_progress (SafetensorsFile *self,
                                               double           progress);

/* safetensors-file-edit.c: drops the in-memory transaction (the file on
 * disk is already back to its committed state). */
void     safetensors_file_forget_transaction (SafetensorsFile *self);

G_END_DECLS
