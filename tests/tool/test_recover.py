# test_recover.py: `safetensors-tool recover` and readers facing a journal
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import json
import os
import shutil
import struct
import subprocess

TOOL = os.environ.get('SAFETENSORS_TOOL', 'safetensors-tool')
DATA = os.environ.get('SAFETENSORS_TEST_DATA',
                      os.path.join(os.path.dirname(__file__), '..', 'data'))


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def hot_journal(old_size, ranges=()):
    """A hot journal as documented in safetensors-journal-private.h."""
    body = b'STJOURN\x01' + struct.pack('<IIQQQ', 1, 0, old_size, 0, len(ranges))
    for offset, data in ranges:
        body += struct.pack('<QQ', offset, len(data)) + data
    return body + hashlib.sha256(body).digest()


def journal_path(path):
    return os.path.join(os.path.dirname(path), '.' + os.path.basename(path) + '.safetensors-journal')


def test_recover_rolls_back_an_interrupted_commit(tmp_path):
    path = str(tmp_path / 'model.safetensors')
    shutil.copy(os.path.join(DATA, 'example.safetensors'), path)
    with open(path, 'rb') as f:
        original = f.read()

    # An interrupted commit: new bytes past the end, the header clobbered.
    with open(journal_path(path), 'wb') as f:
        f.write(hot_journal(len(original), [(0, original[:64])]))
    with open(path, 'r+b') as f:
        f.write(b'\xff' * 64)
        f.seek(0, 2)
        f.write(b'staged data')

    # Readers are told to recover and change nothing.
    result = run('validate', path)
    assert result.returncode == 1
    assert 'needs-recovery' in result.stdout
    assert 'recover' in result.stdout

    result = run('recover', path)
    assert result.returncode == 0, result.stderr
    assert 'OK' in result.stdout
    with open(path, 'rb') as f:
        assert f.read() == original
    assert not os.path.exists(journal_path(path))
    assert run('validate', path).returncode == 0


def test_recover_refuses_a_damaged_journal(tmp_path):
    path = str(tmp_path / 'model.safetensors')
    shutil.copy(os.path.join(DATA, 'example.safetensors'), path)
    with open(path, 'rb') as f:
        original = f.read()
    journal = bytearray(hot_journal(len(original), [(0, original[:64])]))
    journal[-1] ^= 0xff
    with open(journal_path(path), 'wb') as f:
        f.write(journal)

    result = run('recover', path)
    assert result.returncode == 1
    assert 'damaged' in result.stderr
    with open(path, 'rb') as f:
        assert f.read() == original
    assert os.path.exists(journal_path(path))


def test_recover_without_journal_changes_nothing(tmp_path):
    path = str(tmp_path / 'model.safetensors')
    shutil.copy(os.path.join(DATA, 'example.safetensors'), path)
    with open(path, 'rb') as f:
        original = f.read()
    assert run('recover', path).returncode == 0
    with open(path, 'rb') as f:
        assert f.read() == original


def interrupted_copy(tmp_path):
    """A copy of the example with a hot journal; returns (path, original)."""
    path = str(tmp_path / 'model.safetensors')
    shutil.copy(os.path.join(DATA, 'example.safetensors'), path)
    with open(path, 'rb') as f:
        original = f.read()
    with open(journal_path(path), 'wb') as f:
        f.write(hot_journal(len(original), [(0, original[:64])]))
    with open(path, 'r+b') as f:
        f.write(b'\xff' * 64)
    return path, original


def test_recover_text_says_what_it_did(tmp_path):
    path, _ = interrupted_copy(tmp_path)
    result = run('recover', path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'{path}: OK, journal applied (6 tensors)\n'
    result = run('recover', path)
    assert result.stdout == f'{path}: OK, no journal (6 tensors)\n'


def test_recover_json(tmp_path):
    path, original = interrupted_copy(tmp_path)
    result = run('recover', '--json', path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {'file': path, 'recovered': True, 'n_tensors': 6}
    with open(path, 'rb') as f:
        assert f.read() == original

    result = run('recover', '--json', path)
    assert json.loads(result.stdout) == {'file': path, 'recovered': False, 'n_tensors': 6}


def test_recover_json_damaged_journal(tmp_path):
    path, _ = interrupted_copy(tmp_path)
    with open(journal_path(path), 'r+b') as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 0xff]))
    result = run('recover', '--json', path)
    assert result.returncode == 1
    error = json.loads(result.stdout)['error']
    assert error['file'] == path and error['code'] == 'corrupt-journal'
    assert result.stderr == f'safetensors-tool: {path}: {error["message"]}\n'


def test_recover_usage_errors(tmp_path):
    assert run('recover').returncode == 2
    assert run('recover', 'a', 'b').returncode == 2
    assert run('recover', '--bogus', 'a').returncode == 2
