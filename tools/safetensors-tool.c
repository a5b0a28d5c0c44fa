/* safetensors-tool.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <locale.h>
#include <stdio.h>

#include "tool-common.h"

#define TOOL_COMMAND_GROUP_ENTRY(group) tool_##group##_commands,

static const ToolCommand *const command_groups[] = {
  TOOL_FOREACH_COMMAND_GROUP (TOOL_COMMAND_GROUP_ENTRY)
};

#undef TOOL_COMMAND_GROUP_ENTRY

static const ToolCommand *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (command_groups); i++)
    for (const ToolCommand *command = command_groups[i]; command->name != NULL; command++)
      if (g_str_equal (command->name, name))
        return command;

  return NULL;
}

static void
append_command_list (GString *out)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  for (gsize i = 0; i < G_N_ELEMENTS (command_groups); i++)
    for (const ToolCommand *command = command_groups[i]; command->name != NULL; command++)
      {
        char **row = g_new0 (char *, 3);

        row[0] = g_strdup (command->name);
        row[1] = g_strdup (command->summary);
        g_ptr_array_add (rows, row);
      }

  tool_append_table (out, rows, "ll", 2);
}

static void
print_usage (FILE *stream)
{
  g_autoptr(GString) out = g_string_new (NULL);

  g_string_append (out,
                   "Usage:\n"
                   "  " TOOL_NAME " COMMAND [OPTION…] [ARGUMENT…]\n"
                   "\n"
                   "Inspect and check .safetensors files.\n"
                   "\n"
                   "Commands:\n");
  append_command_list (out);
  g_string_append (out,
                   "\n"
                   "Options:\n"
                   "  -h, --help  Show this help\n"
                   "  --version   Show the version\n"
                   "\n"
                   "Run “" TOOL_NAME " COMMAND --help” for the options of a command.\n"
                   "Exit status: 0 on success, 1 for invalid input or a failed check,\n"
                   "2 for a usage error.\n");

  fwrite (out->str, 1, out->len, stream);
}

static int
run_command (const ToolCommand  *command,
             int                 argc,
             char              **argv)
{
  int status = command->run (command, argc, argv);

  /* Output is buffered: a full disk or a closed pipe shows up here. */
  if (fflush (stdout) != 0 || ferror (stdout))
    {
      int saved_errno = errno;

      g_printerr ("%s: cannot write to standard output: %s\n",
                  TOOL_NAME, g_strerror (saved_errno));
      return TOOL_EXIT_FAILURE;
    }

  return status;
}

/* `safetensors-tool help [COMMAND]`, the git spelling of `--help`. */
static int
run_help (int    argc,
          char **argv)
{
  const ToolCommand *command;
  char *help_argv[] = { NULL, (char *) "--help", NULL };

  if (argc < 3)
    {
      print_usage (stdout);
      return TOOL_EXIT_OK;
    }

  command = find_command (argv[2]);
  if (command == NULL)
    {
      g_printerr ("%s: unknown command “%s”\n\n", TOOL_NAME, argv[2]);
      print_usage (stderr);
      return TOOL_EXIT_USAGE;
    }

  help_argv[0] = argv[2];
  return run_command (command, 2, help_argv);
}

int
main (int    argc,
      char **argv)
{
  const ToolCommand *command;
  const char *name;

  setlocale (LC_ALL, "");
  g_set_prgname (TOOL_NAME);

  if (argc < 2)
    {
      print_usage (stderr);
      return TOOL_EXIT_USAGE;
    }

  name = argv[1];
  if (g_str_equal (name, "--help") || g_str_equal (name, "-h"))
    {
      print_usage (stdout);
      return TOOL_EXIT_OK;
    }
  if (g_str_equal (name, "--version"))
    {
      printf ("%s %s\n", TOOL_NAME, SAFETENSORS_VERSION_S);
      return TOOL_EXIT_OK;
    }
  if (g_str_equal (name, "help"))
    return run_help (argc, argv);

  command = find_command (name);
  if (command == NULL)
    {
      if (name[0] == '-')
        g_printerr ("%s: unknown option “%s”\n\n", TOOL_NAME, name);
      else
        g_printerr ("%s: unknown command “%s”\n\n", TOOL_NAME, name);
      print_usage (stderr);
      return TOOL_EXIT_USAGE;
    }

  return run_command (command, argc - 1, argv + 1);
}
