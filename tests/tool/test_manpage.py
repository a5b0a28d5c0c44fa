"""Checks that docs/safetensors-tool.1 documents every command of the tool.

Run by meson (suite "tool") with Debian's /usr/bin/python3 -m pytest. The
command names come from `safetensors-tool --help`, so adding a command
without documenting it fails here.
"""
import os
import re
import shutil
import subprocess

import pytest

TOOL = os.environ["SAFETENSORS_TOOL"]
MANPAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "docs", "safetensors-tool.1")


def tool_commands():
    result = subprocess.run([TOOL, "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    start = lines.index("Commands:") + 1
    commands = []
    for line in lines[start:]:
        if not line.strip():
            break
        commands.append(line.split()[0])
    return commands


def documented_names():
    """Names in `.B name` (or `.SS`, `.BR`) request lines, with roff's
    escaped hyphens (`\\-`) read as plain ones."""
    with open(MANPAGE, encoding="ascii") as f:
        text = f.read()
    names = set()
    for match in re.finditer(r'^\.(?:B|BR|SS)\s+"?([^\s"]+)', text, re.MULTILINE):
        names.add(match.group(1).replace("\\-", "-"))
    return names


def test_help_lists_commands():
    commands = tool_commands()
    for expected in ["ls", "info", "header", "validate", "du", "meta", "add", "rm",
                     "mv", "compact", "recover", "import-npz", "export-npz",
                     "import-pytorch", "checksum", "dump", "diff", "cat", "extract",
                     "sparsify"]:
        assert expected in commands


def test_every_command_documented():
    missing = [c for c in tool_commands() if c not in documented_names()]
    assert missing == [], "commands missing from docs/safetensors-tool.1: %s" % missing


def test_every_option_documented():
    """Each long option a command takes appears in the page."""
    with open(MANPAGE, encoding="ascii") as f:
        text = f.read().replace("\\-", "-")
    missing = []
    for command in tool_commands():
        result = subprocess.run([TOOL, command, "--help"], capture_output=True, timeout=60)
        assert result.returncode == 0, command
        for option in re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", result.stdout.decode(),
                                 re.MULTILINE):
            if option != "--help" and option not in text:
                missing.append("%s %s" % (command, option))
    assert missing == []


def command_entries():
    """The entry of each command in the COMMANDS section: from its `.TP` /
    `.B name` lines to the next `.TP`, `.SS` or `.SH`, with roff's escaped
    hyphens read as plain ones."""
    with open(MANPAGE, encoding="ascii") as f:
        text = f.read()
    section = text.split("\n.SH COMMANDS\n", 1)[1].split("\n.SH ", 1)[0]
    entries = {}
    for chunk in re.split(r"^\.(?:TP|SS[^\n]*)\n", section, flags=re.MULTILINE):
        match = re.match(r'\.B\s+"?([^\s"]+)', chunk)
        if match:
            name = match.group(1).replace("\\-", "-")
            assert name not in entries, "two entries for %s" % name
            entries[name] = chunk.replace("\\-", "-")
    return entries


def command_options(command):
    result = subprocess.run([TOOL, command, "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0, command
    return [option for option in re.findall(r"^\s+(?:-\w, )?(--[\w-]+)",
                                            result.stdout.decode(), re.MULTILINE)
            if option != "--help"]


def test_every_command_has_an_entry():
    entries = command_entries()
    missing = [c for c in tool_commands() if c not in entries]
    assert missing == [], "commands without an entry under COMMANDS: %s" % missing


def test_every_option_in_its_command_entry():
    """The synopsis of each command's entry names each of its options."""
    entries = command_entries()
    missing = []
    for command in tool_commands():
        for option in command_options(command):
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option),
                             entries.get(command, "")):
                missing.append("%s %s" % (command, option))
    assert missing == [], "options missing from their command's entry: %s" % missing


def test_json_output_documented():
    """Every command with --json is listed in the JSON OUTPUT section."""
    with open(MANPAGE, encoding="ascii") as f:
        text = f.read().replace("\\-", "-")
    section = text.split("\n.SH JSON OUTPUT\n", 1)[1].split("\n.SH ", 1)[0]
    listed = set()
    for line in section.splitlines():
        match = re.match(r"^\.(?:B|BR)\s+(.*)$", line)
        if match:
            listed.update(w.strip('",') for w in match.group(1).split())
    missing = [c for c in tool_commands() if "--json" in command_options(c)
               and c not in listed]
    assert missing == [], "commands with --json missing from JSON OUTPUT: %s" % missing


def test_exit_statuses_documented():
    with open(MANPAGE, encoding="ascii") as f:
        text = f.read()
    section = text.split(".SH EXIT STATUS", 1)[1].split(".SH", 1)[0]
    for status in ("0", "1", "2"):
        assert re.search(r"^\.B %s$" % status, section, re.MULTILINE)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_manpage_renders_without_warnings():
    result = subprocess.run(["groff", "-man", "-ww", "-z", MANPAGE],
                            capture_output=True, timeout=60, env={**os.environ, "LC_ALL": "C"})
    assert result.returncode == 0
    assert result.stderr == b""
