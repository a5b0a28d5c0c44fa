#!/usr/bin/python3
# bench-numpy.py: NumPy views of a large tensor through the PyGObject override,
# against numpy.load(mmap_mode='r') of the same bytes as .npy
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run by hand with the built tree (not part of `meson test`), from the
# source folder:
#
#   GI_TYPELIB_PATH=_build/safetensors-glib LD_LIBRARY_PATH=_build/safetensors-glib \
#   PYTHONPATH=_build/tests/python/pyoverrides \
#   /usr/bin/python3 tests/bench/bench-numpy.py [--size-mb 1024] [--dir DIR] [--repeat 11]
#
# It writes a SIZE-MB float32 tensor to DIR (default: a temporary folder on
# the disk of $TMPDIR) as .safetensors and as .npy, and reports
#  - view: the time to make the NumPy view of the tensor from an open file,
#    and how much the process's RSS grew (no copy: close to nothing);
#  - open+view: the same, opening the file each time;
#  - sum: summing the whole tensor, through our view and through
#    numpy.load(mmap_mode='r') (ndarray.sum(), float32), page cache warm; fresh mappings each round
#    (so both pay the page faults) and a reused mapping (neither does).
# Goals: view < 1 ms without RSS growth; sum ratio (npy time / ours) >= 1.0.

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import gi

gi.require_version('Safetensors', '1')
from gi.repository import Safetensors  # noqa: E402

import numpy  # noqa: E402


def rss_bytes():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def timed(func, repeat):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def interleaved(ours, theirs, repeat):
    """Times two functions in alternating rounds, so that both see the same
    machine noise; gives each one's best and median and the median of the
    per-round ratios theirs / ours."""
    mine, other, ratios = [], [], []
    for i in range(repeat):
        pair = []
        for func in ((ours, theirs) if i % 2 == 0 else (theirs, ours)):
            start = time.perf_counter()
            func()
            pair.append(time.perf_counter() - start)
        if i % 2:
            pair.reverse()
        mine.append(pair[0])
        other.append(pair[1])
        ratios.append(pair[1] / pair[0])
    return (min(mine), statistics.median(mine), min(other), statistics.median(other),
            statistics.median(ratios))


def report_pair(result):
    best, median, best_npy, median_npy, ratio = result
    print('safetensors-glib: best %s, median %s' % (fmt(best), fmt(median)))
    print('numpy .npy mmap:  best %s, median %s' % (fmt(best_npy), fmt(median_npy)))
    print('ratio (npy / ours), median of rounds: %.2fx  (goal >= 1.0x: %s)'
          % (ratio, 'met' if ratio >= 1.0 else 'MISSED'))


def fmt(seconds):
    if seconds < 1e-3:
        return '%.1f µs' % (seconds * 1e6)
    if seconds < 1:
        return '%.2f ms' % (seconds * 1e3)
    return '%.3f s' % seconds


def main():
    parser = argparse.ArgumentParser(description='NumPy views through the override vs numpy.load(mmap_mode="r")')
    parser.add_argument('--size-mb', type=int, default=1024)
    parser.add_argument('--dir', default=None)
    parser.add_argument('--repeat', type=int, default=11)
    args = parser.parse_args()

    assert Safetensors.File.__module__ == 'gi.overrides.Safetensors', \
        'the override is not on PYTHONPATH'
    folder = args.dir or tempfile.mkdtemp(prefix='bench-numpy-', dir=os.environ.get('TMPDIR', '/var/tmp'))
    os.makedirs(folder, exist_ok=True)
    st_path = os.path.join(folder, 'big.safetensors')
    npy_path = os.path.join(folder, 'big.npy')
    n = args.size_mb * (1 << 20) // 4
    shape = (n // 1024, 1024)

    try:
        print('writing %d MiB as .safetensors and .npy in %s' % (args.size_mb, folder))
        data = numpy.random.default_rng(0).standard_normal(shape, dtype=numpy.float32)
        Safetensors.save_file({'big': data}, st_path)
        numpy.save(npy_path, data)
        expected = float(data.sum(dtype=numpy.float64))
        del data

        # warm the page cache for both files
        for path in (st_path, npy_path):
            with open(path, 'rb') as f:
                while f.read(64 << 20):
                    pass

        print('\n== view (file already open) ==')
        sf = Safetensors.File.open(st_path)
        arrays = sf.as_numpy()
        arrays['big']    # first call imports and warms caches
        before = rss_bytes()
        best, median, view = timed(lambda: arrays['big'], max(args.repeat, 50))
        grown = rss_bytes() - before
        print('as_numpy()["big"]: best %s, median %s  (goal < 1 ms: %s)'
              % (fmt(best), fmt(median), 'met' if median < 1e-3 else 'MISSED'))
        print('RSS grew by %.1f MiB for a %d MiB tensor  (no copy: %s)'
              % (grown / 2 ** 20, args.size_mb, 'met' if grown < (n * 4) // 100 else 'MISSED'))
        assert view.shape == shape and view.dtype == numpy.float32 and not view.flags.owndata

        print('\n== open + view ==')

        def open_and_view():
            return Safetensors.File.open(st_path).as_numpy()['big']

        best, median, _ = timed(open_and_view, max(args.repeat, 20))
        print('File.open() + as_numpy()["big"]: best %s, median %s' % (fmt(best), fmt(median)))

        def npy_open():
            return numpy.load(npy_path, mmap_mode='r')

        best_npy, median_npy, _ = timed(npy_open, max(args.repeat, 20))
        print('numpy.load(mmap_mode="r"):       best %s, median %s' % (fmt(best_npy), fmt(median_npy)))

        print('\n== sum, fresh mapping each round (page faults included) ==')
        assert float(open_and_view().sum(dtype=numpy.float64)) == expected
        assert float(npy_open().sum(dtype=numpy.float64)) == expected
        report_pair(interleaved(lambda: open_and_view().sum(), lambda: npy_open().sum(),
                                args.repeat))

        print('\n== sum, mapping reused (no page faults) ==')
        npy_view = npy_open()
        npy_view.sum()
        view.sum()
        report_pair(interleaved(lambda: view.sum(), lambda: npy_view.sum(), args.repeat))
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for path in (st_path, npy_path):
                if os.path.exists(path):
                    os.unlink(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
