# test_docs_snippets.py: the code blocks of the Python, GJS and Vala guides
# run as written
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# docs/python.md: its ```python blocks run in order, as one program.
# docs/gjs.md: each ```js block is a module run with `gjs -m`, in order.
# docs/vala.md: each ```vala block is a program compiled against the
# build tree's VAPI and run, in order.
# All in one scratch folder per guide holding a copy of example.safetensors
# and of tests/data/torch/model.pt;
# "/path/to/" in a snippet stands for that folder.

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get('SAFETENSORS_SOURCE_DIR', os.path.join(HERE, '..', '..'))
BUILD_DIR = os.environ.get('SAFETENSORS_BUILD_DIR')
DATA_DIR = os.environ.get('SAFETENSORS_TEST_DATA', os.path.join(SOURCE_DIR, 'tests', 'data'))
DOCS_DIR = os.path.join(SOURCE_DIR, 'docs')


def code_blocks(guide, language):
    """(line number, code) of each fenced block of that language."""
    with open(os.path.join(DOCS_DIR, guide), encoding='utf-8') as f:
        text = f.read()
    blocks = []
    for match in re.finditer(r'^```%s\n(.*?)^```' % re.escape(language), text, re.S | re.M):
        blocks.append((text.count('\n', 0, match.start()) + 2, match.group(1)))
    return blocks


@pytest.fixture
def scratch(tmp_path):
    shutil.copyfile(os.path.join(DATA_DIR, 'example.safetensors'),
                    tmp_path / 'example.safetensors')
    shutil.copyfile(os.path.join(DATA_DIR, 'torch', 'model.pt'), tmp_path / 'model.pt')
    return tmp_path


def run(command, cwd, what, timeout=120):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, '%s failed (%d):\n%s%s' % (
        what, result.returncode, result.stdout, result.stderr)
    return result.stdout


def test_python_guide(scratch):
    blocks = code_blocks('python.md', 'python')
    assert len(blocks) >= 8
    program = []
    for line, code in blocks:
        program.append('# ---- docs/python.md line %d\n' % line)
        program.append(code.replace('/path/to/', str(scratch) + '/'))
    script = scratch / 'guide.py'
    script.write_text(''.join(program), encoding='utf-8')
    run([sys.executable, '-B', str(script)], scratch, 'docs/python.md as ' + str(script))


def test_python_guide_has_the_seed_example():
    seed = '''with Safetensors.File.open("/path/to/example.safetensors", "r+") as sf:
    arrays = sf.as_numpy()
    arrays["hello"][3, :] += 420.69
    arrays["world"] = arrays["hello"][0:2] * 10
    arrays.update({"q": my_array_1, "k": my_array_2, "v": my_array_3})
    del arrays["v"]
'''
    assert seed in [code for _, code in code_blocks('python.md', 'python')]


def test_gjs_guide(scratch):
    gjs = shutil.which('gjs')
    if gjs is None:
        pytest.skip('gjs is not installed')
    blocks = code_blocks('gjs.md', 'js')
    assert len(blocks) >= 5
    outputs = []
    for line, code in blocks:
        script = scratch / ('gjs-md-line-%d.js' % line)
        script.write_text(code, encoding='utf-8')
        outputs.append(run([gjs, '-m', str(script)], scratch, 'docs/gjs.md line %d' % line))
    # the example program scaled "hello" by 2
    assert 'hello after:  min 0 max 30 mean 15' in outputs[-1]


def vala_command(source, program):
    valac = shutil.which('valac')
    vapi = BUILD_DIR and os.path.join(BUILD_DIR, 'safetensors-glib', 'safetensors-glib-1.vapi')
    if valac is None or not vapi or not os.path.exists(vapi):
        pytest.skip('needs valac and a build tree with the VAPI (SAFETENSORS_BUILD_DIR)')
    lib_dir = os.path.join(BUILD_DIR, 'safetensors-glib')
    flags = ['-I' + SOURCE_DIR, '-I' + os.path.join(SOURCE_DIR, 'safetensors-glib'),
             '-I' + lib_dir, '-L' + lib_dir, '-lsafetensors-glib-1', '-w']
    return [valac, '--vapidir', lib_dir, '--pkg', 'gio-2.0', '--pkg', 'safetensors-glib-1',
            '--disable-warnings', '-o', program, source] + [x for f in flags for x in ('-X', f)]


def test_vala_guide(scratch, monkeypatch):
    blocks = code_blocks('vala.md', 'vala')
    assert len(blocks) >= 3
    # valac asks pkg-config for the package's flags: the uninstalled one
    monkeypatch.setenv('PKG_CONFIG_PATH', os.pathsep.join(filter(None, [
        BUILD_DIR and os.path.join(BUILD_DIR, 'meson-uninstalled'),
        os.environ.get('PKG_CONFIG_PATH')])))
    for line, code in blocks:
        source = scratch / ('vala-md-line-%d.vala' % line)
        program = scratch / ('vala-md-line-%d' % line)
        source.write_text(code, encoding='utf-8')
        run(vala_command(str(source), str(program)), scratch,
            'compiling docs/vala.md line %d' % line, timeout=300)
        run([str(program)], scratch, 'docs/vala.md line %d' % line)
