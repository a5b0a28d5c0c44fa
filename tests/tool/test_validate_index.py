# test_validate_index.py: `validate` on the index of a sharded checkpoint
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import shutil
import subprocess

TOOL = os.environ.get('SAFETENSORS_TOOL', 'safetensors-tool')
DATA = os.environ.get('SAFETENSORS_TEST_DATA',
                      os.path.join(os.path.dirname(__file__), '..', 'data'))


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def make_shards(tmp_path):
    out = tmp_path / 'shards'
    result = run('split', os.path.join(DATA, 'example.safetensors'), str(out),
                 '--max-shard-size', '100B')
    assert result.returncode == 0, result.stderr
    indexes = [name for name in os.listdir(out) if name.endswith('.index.json')]
    assert len(indexes) == 1
    return out, out / indexes[0]


def test_valid_index(tmp_path):
    _, index = make_shards(tmp_path)
    result = run('validate', str(index))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith('OK')


def test_missing_shard(tmp_path):
    out, index = make_shards(tmp_path)
    with open(index) as f:
        weight_map = json.load(f)['weight_map']
    os.unlink(out / sorted(set(weight_map.values()))[0])
    result = run('validate', str(index))
    assert result.returncode == 1
    assert str(index) in result.stdout


def test_wrong_total_size(tmp_path):
    _, index = make_shards(tmp_path)
    with open(index) as f:
        doc = json.load(f)
    doc['metadata']['total_size'] += 1
    with open(index, 'w') as f:
        json.dump(doc, f)
    result = run('validate', '--json', str(index))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report[0]['valid'] is False
    assert 'total_size' in report[0]['message'] or 'size' in report[0]['message']


def test_tensor_in_the_wrong_shard(tmp_path):
    _, index = make_shards(tmp_path)
    with open(index) as f:
        doc = json.load(f)
    shards = sorted(set(doc['weight_map'].values()))
    assert len(shards) > 1
    name = next(n for n, s in doc['weight_map'].items() if s == shards[0])
    doc['weight_map'][name] = shards[1]
    with open(index, 'w') as f:
        json.dump(doc, f)
    assert run('validate', str(index)).returncode == 1
