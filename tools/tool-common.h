/* tool-common.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <safetensors-glib/safetensors-glib.h>

G_BEGIN_DECLS

#define TOOL_NAME "safetensors-tool"

/* Exit statuses, the same for every command. */
enum
{
  TOOL_EXIT_OK      = 0,
  TOOL_EXIT_FAILURE = 1,   /* invalid input or a failed check */
  TOOL_EXIT_USAGE   = 2,
};

typedef struct _ToolCommand ToolCommand;

/* @argv[0] is the command name; tool_parse_options() consumes the rest. */
typedef int (*ToolCommandFunc) (const ToolCommand  *command,
                                int                 argc,
                                char              **argv);

struct _ToolCommand
{
  const char      *name;
  const char      *parameters;   /* "FILE", "FILE…", shown in the usage line */
  const char      *summary;      /* one line, for `safetensors-tool --help` */
  const char      *description;  /* shown after the options, or NULL */
  guint            min_args;
  guint            max_args;     /* G_MAXUINT: no upper bound */
  ToolCommandFunc  run;
};

/* Every command group, in the order `safetensors-tool --help` lists them.
 * A group is a file tools/tool-GROUP.c that defines tool_GROUP_commands[],
 * ended by an entry with a NULL name; adding one is a line here (and the
 * file in tools/meson.build). */
#define TOOL_FOREACH_COMMAND_GROUP(X) \
  X (inspect) \
  X (npz) \
  X (edit) \
  X (torch) \
  X (data) \
  X (copy) \
  X (index)

#define TOOL_DECLARE_COMMAND_GROUP(group) \
  extern const ToolCommand tool_##group##_commands[];
TOOL_FOREACH_COMMAND_GROUP (TOOL_DECLARE_COMMAND_GROUP)
#undef TOOL_DECLARE_COMMAND_GROUP

/* GOptionEntry initializers shared by the commands. */
#define TOOL_OPTION_NO_MMAP(flag_ptr) \
  { "no-mmap", 0, 0, G_OPTION_ARG_NONE, (flag_ptr), \
    "Read the file with plain reads instead of mapping it", NULL }
#define TOOL_OPTION_JSON(flag_ptr) \
  { "json", 0, 0, G_OPTION_ARG_NONE, (flag_ptr), \
    "Print JSON instead of text", NULL }

/* Command line */
gboolean          tool_parse_options        (const ToolCommand   *command,
                                             const GOptionEntry  *entries,
                                             int                  argc,
                                             char               **argv,
                                             char              ***out_args);

/* Files and errors */
SafetensorsFile  *tool_open_file            (const char          *arg,
                                             gboolean             no_mmap,
                                             GError             **error);
const char       *tool_error_get_code_nick  (const GError        *error);
const char       *tool_error_get_message    (const char          *arg,
                                             const GError        *error);
void              tool_print_file_error     (const char          *arg,
                                             const GError        *error);
/* Prints the error for @arg, frees it and returns TOOL_EXIT_FAILURE. */
int               tool_fail_with_error      (const char          *arg,
                                             GError              *error);
/* The same; with @json, also prints the error object on stdout. */
int               tool_fail_with_error_json (const char          *arg,
                                             GError              *error,
                                             gboolean             json);

/* Sharded checkpoints */
gboolean          tool_arg_is_index         (const char          *arg);
gboolean          tool_check_not_index      (const char          *arg,
                                             GError             **error);
SafetensorsIndex *tool_open_index           (const char          *arg,
                                             GError             **error);
GHashTable       *tool_index_get_metadata   (SafetensorsIndex    *index,
                                             GError             **error);

/* Output */
void              tool_write_stdout         (GString             *text);
void              tool_append_display_name  (GString             *out,
                                             const char          *str,
                                             gboolean             in_column);
void              tool_append_table         (GString             *out,
                                             GPtrArray           *rows,
                                             const char          *alignment,
                                             guint                indent);
void              tool_append_shape         (GString             *out,
                                             SafetensorsTensor   *tensor,
                                             const char          *separator);

/* JSON: callers emit the punctuation, these emit the values exactly. */
void              tool_json_append_string   (GString             *out,
                                             const char          *str);
void              tool_json_append_member   (GString             *out,
                                             const char          *name);
void              tool_json_append_uint64   (GString             *out,
                                             guint64              value);
void              tool_json_append_nullable_string
                                            (GString             *out,
                                             const char          *str);
void              tool_json_append_tensor_members (GString           *out,
                                                   SafetensorsTensor *tensor);
void              tool_json_append_written_file (GString    *out,
                                                 const char *file,
                                                 guint64     n_tensors,
                                                 guint64     tensor_bytes,
                                                 guint64     file_size);
void              tool_json_append_error    (GString             *out,
                                             const char          *arg,
                                             const GError        *error);

G_END_DECLS
