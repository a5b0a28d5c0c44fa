#!/usr/bin/python3
"""Importing a ~1 GB PyTorch checkpoint against `cp` of the same file.

Run from the source tree after building (no torch needed):

    /usr/bin/python3 tests/bench/bench-torch.py [_build/tools/safetensors-tool]

The checkpoint is written by this script in the zip format torch >= 1.6 uses
(archive/data.pkl, archive/data/<key>, archive/version), its pickle made with
the standard pickle module against stand-ins for torch's globals, so that
the bytes are what torch.save() would write for a state_dict of F32 tensors.
Prints the throughput ratio import/cp (goal >= 0.8) and the import's peak
RSS (goal <= 64 MB), both measured in this run. The import fsyncs its
output (an atomic, durable replace), so it is compared with `cp && sync`
too: against a plain cp, which leaves the data in the page cache, the
ratio is bounded by how fast the disk takes 1 GB.
"""
import collections
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import types
import zipfile

N_TENSORS = 16
TENSOR_ELEMENTS = 16 * 1024 * 1024          # 64 MiB of F32 each, 1 GiB in all


def fake_torch():
    """Modules and globals with the names torch pickles refer to."""
    torch = types.ModuleType('torch')
    utils = types.ModuleType('torch._utils')

    class FloatStorage:
        pass
    FloatStorage.__module__ = 'torch'
    FloatStorage.__qualname__ = 'FloatStorage'

    def _rebuild_tensor_v2(*args):
        raise AssertionError('never called')
    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'

    torch.FloatStorage = FloatStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    sys.modules['torch'] = torch
    sys.modules['torch._utils'] = utils
    return FloatStorage, _rebuild_tensor_v2


class Storage:
    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


class Tensor:
    def __init__(self, storage, shape, rebuild):
        self.storage = storage
        self.shape = shape
        self.rebuild = rebuild

    def __reduce__(self):
        stride = []
        acc = 1
        for dim in reversed(self.shape):
            stride.insert(0, acc)
            acc *= dim
        return (self.rebuild, (self.storage, 0, tuple(self.shape), tuple(stride), False,
                               collections.OrderedDict()))


def write_checkpoint(path):
    float_storage, rebuild = fake_torch()
    state = collections.OrderedDict()
    for i in range(N_TENSORS):
        state[f'layers.{i}.weight'] = Tensor(Storage(str(i), TENSOR_ELEMENTS), [4096, 4096], rebuild)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ('storage', float_storage, obj.key, 'cpu', obj.numel)
            return None

    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)

    chunk = bytes(range(256)) * (1 << 12)            # 1 MiB, not zeros
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('archive/data.pkl', buf.getvalue())
        for i in range(N_TENSORS):
            with z.open(f'archive/data/{i}', 'w', force_zip64=True) as entry:
                for _ in range(TENSOR_ELEMENTS * 4 // len(chunk)):
                    entry.write(chunk)
        z.writestr('archive/version', '3\n')


def timed(args):
    start = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else os.path.join('_build', 'tools', 'safetensors-tool')
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'model.pt')
        write_checkpoint(src)
        size = os.path.getsize(src)
        timed(['cat', src])                             # warm the page cache

        copy = os.path.join(tmp, 'copy.pt')
        t_cp = min(timed(['cp', src, copy]) for _ in range(3))
        # The import fsyncs its output (atomic, durable replace): compare
        # with a synced copy too.
        t_cp_sync = min(timed(['sh', '-c', f'cp "{src}" "{copy}" && sync "{copy}"']) for _ in range(3))
        t_imp = min(timed([tool, 'import-pytorch', '--quiet', src, os.path.join(tmp, 'out.safetensors')])
                    for _ in range(3))
        # ru_maxrss of the children: cp's is small, so this is the import's.
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        gb = size / 1e9
        print(f'checkpoint: {gb:.2f} GB, {N_TENSORS} tensors')
        print(f'cp:              {t_cp:7.3f} s  {gb / t_cp:6.2f} GB/s')
        print(f'cp && sync:      {t_cp_sync:7.3f} s  {gb / t_cp_sync:6.2f} GB/s')
        print(f'import-pytorch:  {t_imp:7.3f} s  {gb / t_imp:6.2f} GB/s  '
              f'ratio vs cp {t_cp / t_imp:.2f}, vs cp+sync {t_cp_sync / t_imp:.2f} (goal >= 0.8)')
        print(f'peak RSS of the import: {rss_mb:.1f} MB (goal <= 64 MB; mapped input pages count)')


if __name__ == '__main__':
    main()
