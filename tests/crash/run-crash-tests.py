#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Crash-safety sweep for safetensors-glib.

For every scenario (an edit transaction on a small file):

1. prepare the old file, read its content (OLD);
2. run the transaction once under crash-shim in counting mode: this lists
   the I/O calls it makes (N_total) and gives the new content (NEW);
3. for N in 1..N_total, run it again and crash at call N:
     kill    the process dies before call N (what it wrote is in the page
             cache and survives);
     torn    call N is a write of which only a part lands, then it dies;
     power   the power goes out before call N: only what fsync made
             durable survives (files by fsync, names by fsync of the
             directory); cuts between two syncs leave the same state, so
             one N per durable state is tried;
   then, in a fresh process, open the file for writing (recovery) and read
   it strictly: it must pass and hold OLD or NEW, and no journal may be
   left. With a power cut at exit, after the commit returned, it must hold
   NEW. With --long (or --nested), a crash during that recovery is
   simulated too, at every I/O call of the recovery;
4. for N in 1..N_total, make call N fail with ENOSPC or EIO (the one it
   would plausibly fail with; both with --long): the transaction must fail
   with a GError (or succeed if the call did not matter, and then hold
   NEW), be rolled back to OLD in the live object and in the file, and
   leave no journal. With --long, also: after a failed commit, a second
   commit must succeed and hold NEW.

Prints "crash points: X, violations: Y" and exits 1 on any violation.
"""

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

CRASH_STATUS = 137
MODEL = 'model.safetensors'
WRITE_OPS = {'write', 'pwrite', 'pwrite64', 'writev', 'pwritev', 'pwritev64',
             'pwritev2', 'pwritev64v2', 'copy_file_range'}
SYNC_OPS = {'fsync', 'fdatasync', 'syncfs'}
# The errno a call most plausibly fails with, for the default sweep (the
# long one injects both everywhere).
EIO_OPS = SYNC_OPS | {'sync_file_range', 'unlink', 'unlinkat', 'remove'}
CRASH_MODES = ('kill', 'torn', 'power')
ERROR_MODES = ('enospc', 'eio')
TORN_SHAPES_LONG = ('half', 'one', 'most', 'tail')

# Workload exit statuses (see crash-workload.c).
EXIT_OK = 0
EXIT_ROLLED_BACK = 3
EXIT_OPEN_FAILED = 4


def journal_name(name):
    return '.%s.safetensors-journal' % name


@dataclasses.dataclass
class Point:
    n: int
    op: str
    line: str
    length: int


@dataclasses.dataclass
class Scenario:
    spec: str
    policy: str
    pristine: str
    old: str
    new: str
    points: list


@dataclasses.dataclass
class Outcome:
    crash_points: int = 0
    error_points: int = 0
    violations: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)


class Harness:
    def __init__(self, args):
        self.args = args
        self.workload = os.path.abspath(args.workload)
        self.shim = os.path.abspath(args.shim)
        self.root = tempfile.mkdtemp(prefix='safetensors-crash-', dir=args.tmpdir)
        self.counter = 0
        self.counter_lock = threading.Lock()

        base = dict(os.environ)
        for key in list(base):
            if key.startswith('CRASH_'):
                del base[key]
        # A critical is a bug even on an I/O error.
        g_debug = [x for x in base.get('G_DEBUG', '').split(',') if x]
        if 'fatal-criticals' not in g_debug:
            g_debug.append('fatal-criticals')
        base['G_DEBUG'] = ','.join(g_debug)
        # An ASan build needs its runtime first; the shim comes before it.
        asan = base.get('ASAN_OPTIONS', '')
        base['ASAN_OPTIONS'] = (asan + ':' if asan else '') + 'verify_asan_link_order=0'
        self.base_env = base

    # ---- processes -------------------------------------------------------

    def fresh_dir(self, label):
        with self.counter_lock:
            self.counter += 1
            n = self.counter
        path = os.path.join(self.root, '%06d-%s' % (n, re.sub(r'[^A-Za-z0-9.+-]', '_', label)))
        os.makedirs(path)
        return path

    def env(self, crash=None):
        env = dict(self.base_env)
        if crash is not None:
            preload = env.get('LD_PRELOAD', '')
            env['LD_PRELOAD'] = self.shim + (' ' + preload if preload else '')
            env.update({k: str(v) for k, v in crash.items()})
        return env

    def run(self, argv, crash=None, timeout=60):
        try:
            proc = subprocess.run([self.workload] + argv, env=self.env(crash),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, check=False)
            return proc.returncode, proc.stdout.decode('utf-8', 'replace'), \
                proc.stderr.decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            return None, '', 'timed out after %ds' % timeout

    @staticmethod
    def parse_check(text):
        result = {'state': None}
        lines = text.splitlines(keepends=True)
        i = 0
        while i < len(lines):
            line = lines[i].rstrip('\n')
            if line == 'state-begin':
                if 'state-end\n' not in lines[i:]:
                    break  # the check died while printing
                end = lines.index('state-end\n', i)
                result['state'] = ''.join(lines[i + 1:end])
                i = end + 1
                continue
            key, _, value = line.partition(':')
            result[key] = value.strip()
            i += 1
        return result

    @staticmethod
    def read_trace(path):
        points = []
        if not os.path.exists(path):
            return points
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                fields = line.split()
                length = 0
                m = re.search(r'\blen=(\d+)', line)
                if m:
                    length = int(m.group(1))
                points.append(Point(int(fields[0]), fields[1], line.strip(), length))
        return points

    # ---- scenarios ---------------------------------------------------------

    def list_scenarios(self, long):
        rc, out, err = self.run(['list'] + (['--long'] if long else []))
        if rc != 0:
            raise SystemExit('crash-workload list failed: %s' % err)
        return out.split()

    def baseline(self, spec):
        """Old file, NEW content, and the I/O calls of a clean run."""
        d = self.fresh_dir('baseline-' + spec)
        pristine = os.path.join(d, 'pristine.safetensors')
        rc, out, err = self.run(['prepare', spec, pristine])
        if rc != 0:
            raise RuntimeError('%s: prepare failed (%s): %s' % (spec, rc, err.strip()))
        rc, old, err = self.run(['dump', pristine])
        if rc != 0:
            raise RuntimeError('%s: the old file does not read back: %s' % (spec, old + err))
        rc, info, err = self.run(['info', spec])
        policy = info.split(':', 1)[1].strip() if rc == 0 else 'compact'

        work = os.path.join(d, 'work')
        os.makedirs(work)
        model = os.path.join(work, MODEL)
        shutil.copyfile(pristine, model)
        trace = os.path.join(d, 'trace')
        rc, out, err = self.run(['run', spec, model],
                                crash={'CRASH_DIR': work, 'CRASH_MODE': 'count', 'CRASH_TRACE': trace})
        if rc != EXIT_OK:
            raise RuntimeError('%s: the transaction fails without faults (%s): %s' % (spec, rc, out + err))
        points = self.read_trace(trace)
        rc, out, err = self.run(['check', model])
        check = self.parse_check(out)
        if rc != 0 or check.get('journal-after') != 'no' or check.get('journal-before') != 'no':
            raise RuntimeError('%s: the clean run leaves a bad file or a journal: %s' % (spec, out + err))
        if check.get('leftovers'):
            raise RuntimeError('%s: the clean run leaves files behind: %s' % (spec, check['leftovers']))
        return Scenario(spec, policy, pristine, old, check['state'], points)

    # ---- verdicts --------------------------------------------------------------

    def describe_point(self, scenario, n):
        if n is None:
            return 'at exit'
        if 1 <= n <= len(scenario.points):
            return 'N=%d (%s)' % (n, scenario.points[n - 1].line)
        return 'N=%d' % n

    def judge_recovered(self, scenario, label, check, rc, err, outcome, must_be_new=False):
        """Verdict on a check after a crash."""
        problems = []
        if rc is None:
            problems.append('check hangs')
        elif rc != 0 and check.get('strict') is None:
            problems.append('check died with status %s: %s' % (rc, err.strip()[-300:]))
        if 'recover' in check and check['recover'] != 'ok':
            problems.append('recovery failed: ' + check['recover'])
        if 'recover-close' in check:
            problems.append('close after recovery failed: ' + check['recover-close'])
        if check.get('strict', 'ok') != 'ok':
            problems.append('strict reader rejects the file: ' + check['strict'])
        if check.get('journal-after') == 'yes':
            problems.append('journal still there after recovery')
        state = check.get('state')
        if state is not None:
            if must_be_new and state != scenario.new:
                problems.append('committed, then lost: the content is %s' %
                                ('OLD' if state == scenario.old else 'neither OLD nor NEW'))
            elif state not in (scenario.old, scenario.new):
                problems.append('content is neither OLD nor NEW' + self.diff(scenario, state))
        hot = check.get('read-only-hot', '')
        if hot.startswith('opened'):
            digest = hot.split()[1]
            if digest not in (sha(scenario.old), sha(scenario.new)):
                problems.append('a read-only open of the hot file succeeds and shows neither OLD nor NEW')
        if check.get('leftovers'):
            outcome.warnings.append('%s: files left behind after recovery:%s' % (label, check['leftovers']))
        for p in problems:
            outcome.violations.append('%s: %s' % (label, p))
        return not problems

    @staticmethod
    def diff(scenario, state):
        got = set(state.splitlines())
        old = set(scenario.old.splitlines())
        new = set(scenario.new.splitlines())
        odd = sorted(got - old - new)
        missing = sorted((old & new) - got)
        parts = []
        if odd:
            parts.append('unexpected: ' + '; '.join(odd[:3]))
        if missing:
            parts.append('missing: ' + '; '.join(missing[:3]))
        return (' (' + ', '.join(parts) + ')') if parts else ' (a mix of OLD and NEW)'

    # ---- one crash point ---------------------------------------------------------

    def crash_point(self, scenario, mode, n, torn='half'):
        outcome = Outcome()
        label_mode = mode if mode != 'torn' else 'torn-' + torn
        label = '%s %s %s' % (scenario.spec, label_mode, self.describe_point(scenario, n))
        d = self.fresh_dir('%s-%s-%s' % (scenario.spec, label_mode, n if n else 'exit'))
        work = os.path.join(d, 'work')
        os.makedirs(work)
        model = os.path.join(work, MODEL)
        shutil.copyfile(scenario.pristine, model)
        crash = {'CRASH_DIR': work, 'CRASH_MODE': mode, 'CRASH_AT': n if n else 'exit',
                 'CRASH_TORN': torn}
        if mode == 'power':
            shadow = os.path.join(d, 'shadow')
            os.makedirs(shadow)
            crash['CRASH_SHADOW'] = shadow
        outcome.crash_points += 1

        rc, out, err = self.run(['run', scenario.spec, model], crash=crash)
        if n is None:
            if rc != EXIT_OK:
                outcome.violations.append('%s: the transaction fails (%s): %s' % (label, rc, (out + err).strip()[-300:]))
                return outcome, d
        elif rc == EXIT_OK:
            outcome.warnings.append('%s: crash point not reached (the run is not deterministic)' % label)
        elif rc != CRASH_STATUS:
            outcome.violations.append('%s: the workload ended with status %s before the crash point: %s' %
                                      (label, rc, (out + err).strip()[-300:]))
            return outcome, d

        snapshot = None
        if self.args.nested and mode in ('kill', 'power') and os.path.exists(os.path.join(work, journal_name(MODEL))):
            snapshot = os.path.join(d, 'after-crash')
            shutil.copytree(work, snapshot)

        trace = os.path.join(d, 'recovery-trace')
        rc, out, err = self.run(['check', model],
                                crash={'CRASH_DIR': work, 'CRASH_MODE': 'count', 'CRASH_TRACE': trace})
        check = self.parse_check(out)
        ok = self.judge_recovered(scenario, label, check, rc, err, outcome, must_be_new=(n is None))

        # A second crash, during the recovery, at each of its I/O calls.
        if snapshot is not None and ok:
            recovery_points = self.read_trace(trace)
            for m in range(1, len(recovery_points) + 1):
                nested_label = '%s, then recovery killed at M=%d (%s)' % (label, m, recovery_points[m - 1].line)
                shutil.rmtree(work)
                shutil.copytree(snapshot, work)
                outcome.crash_points += 1
                rc, out, err = self.run(['check', model],
                                        crash={'CRASH_DIR': work, 'CRASH_MODE': 'kill', 'CRASH_AT': m})
                if rc != CRASH_STATUS:
                    outcome.warnings.append('%s: recovery crash point not reached (status %s)' % (nested_label, rc))
                rc, out, err = self.run(['check', model])
                self.judge_recovered(scenario, nested_label, self.parse_check(out), rc, err, outcome)
        return outcome, d

    # ---- one injected error ------------------------------------------------------

    def error_point(self, scenario, mode, n, retry=False):
        """Call N fails. Without @retry, the transaction must be rolled back
        (or succeed if the call did not matter); with @retry, a failed commit
        is tried again, which must commit everything."""
        outcome = Outcome(error_points=1)
        label_mode = mode + ('-retry' if retry else '')
        label = '%s %s %s' % (scenario.spec, label_mode, self.describe_point(scenario, n))
        d = self.fresh_dir('%s-%s-%d' % (scenario.spec, label_mode, n))
        work = os.path.join(d, 'work')
        os.makedirs(work)
        model = os.path.join(work, MODEL)
        shutil.copyfile(scenario.pristine, model)
        state_out = os.path.join(d, 'state-after-rollback')

        rc, out, err = self.run(['run', scenario.spec, model, '--state-out', state_out] +
                                (['--retry'] if retry else []),
                                crash={'CRASH_DIR': work, 'CRASH_MODE': mode, 'CRASH_AT': n})
        journal_left = os.path.exists(os.path.join(work, journal_name(MODEL)))
        litter = sorted(set(os.listdir(work)) - {MODEL, journal_name(MODEL)})
        message = (out + err).strip().replace('\n', ' | ')[-400:]
        if litter:
            outcome.warnings.append('%s: files left behind by the workload: %s' % (label, ' '.join(litter)))

        if retry and rc != EXIT_OK and 'first-attempt:' in out:
            outcome.violations.append('%s: a second commit after a failed one fails too (%s)' % (label, message))
        if 'pending: no' in out and self.args.verbose:
            outcome.warnings.append('%s: the failed commit dropped the transaction' % label)
        if rc == EXIT_OK:
            expected = scenario.new
            if self.args.verbose:
                outcome.warnings.append('%s: the failure was ignored and the commit succeeded' % label)
            if journal_left:
                outcome.warnings.append('%s: the commit succeeded but left its journal behind' % label)
        elif rc in (EXIT_ROLLED_BACK, EXIT_OPEN_FAILED):
            expected = scenario.old
            if journal_left:
                outcome.violations.append('%s: journal left behind after the rollback (%s)' % (label, message))
            if rc == EXIT_ROLLED_BACK:
                try:
                    with open(state_out, encoding='utf-8') as f:
                        live = f.read()
                except OSError:
                    live = None
                if live is not None and live != scenario.old:
                    outcome.violations.append('%s: after rollback the live object is not OLD%s' %
                                              (label, self.diff(scenario, live)))
            if scenario.policy == 'compact' and not journal_left and not same_bytes(scenario.pristine, model):
                outcome.violations.append('%s: the file changed although the transaction was rolled back (%s)' %
                                          (label, message))
        elif rc is None:
            outcome.violations.append('%s: the workload hangs' % label)
            return outcome, d
        else:
            outcome.violations.append('%s: the workload ended with status %s (expected a GError and a rollback): %s' %
                                      (label, rc, message))
            return outcome, d

        rc2, out2, err2 = self.run(['check', model])
        check = self.parse_check(out2)
        before = len(outcome.violations)
        self.judge_recovered(scenario, label, check, rc2, err2, outcome)
        state = check.get('state')
        if len(outcome.violations) == before and state is not None and state != expected:
            outcome.violations.append('%s: the transaction %s but the file holds %s (%s)' %
                                      (label, 'succeeded' if rc == EXIT_OK else 'was rolled back',
                                       'OLD' if state == scenario.old else 'NEW', message))
        return outcome, d


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def same_bytes(a, b):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        return fa.read() == fb.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--workload', required=True, help='the crash-workload executable')
    parser.add_argument('--shim', required=True, help='the crash-shim shared module')
    parser.add_argument('--long', action='store_true',
                        help='the long sweep: every scenario, +nommap and +async variants, '
                             'random transactions, every tearing shape, crashes during recovery')
    parser.add_argument('--seeds', type=int, default=None, help='number of random transactions')
    parser.add_argument('--min-points', type=int, default=1000,
                        help='add random transactions until this many crash points (default 1000)')
    parser.add_argument('--nested', action='store_true', default=None,
                        help='also crash the recovery (default: with --long)')
    parser.add_argument('--no-nested', dest='nested', action='store_false')
    parser.add_argument('--scenario', action='append',
                        help='run only these scenarios (NAME[+nommap][+async] or random-SEED); repeatable')
    parser.add_argument('--mode', action='append', choices=CRASH_MODES + ERROR_MODES,
                        help='run only these modes; repeatable')
    parser.add_argument('--at', type=int, help='only this crash point N')
    parser.add_argument('-j', '--jobs', type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument('--tmpdir', help='where the scratch directory goes')
    parser.add_argument('--keep', action='store_true', help='keep the scratch directory')
    parser.add_argument('-v', '--verbose', action='store_true')
    parser.add_argument('--max-report', type=int, default=60, help='violations printed in full')
    args = parser.parse_args()
    if args.nested is None:
        args.nested = args.long
    modes = args.mode or list(CRASH_MODES + ERROR_MODES)
    torn_shapes = TORN_SHAPES_LONG if args.long else ('half',)

    h = Harness(args)
    started = time.monotonic()

    if args.scenario:
        specs = list(args.scenario)
        min_points = 0
    else:
        specs = h.list_scenarios(args.long)
        if args.long:
            specs += [s + '+nommap' for s in h.list_scenarios(False)]
            specs += [s + '+async' for s in h.list_scenarios(False)]
        n_seeds = args.seeds if args.seeds is not None else (40 if args.long else 4)
        specs += ['random-%d' % seed for seed in range(1, n_seeds + 1)]
        min_points = args.min_points

    total = Outcome()
    scenarios = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)

    def add_baselines(batch):
        for future in [pool.submit(h.baseline, spec) for spec in batch]:
            try:
                scenarios.append(future.result())
            except RuntimeError as e:
                total.violations.append('baseline: %s' % e)

    every_errno = args.long or args.mode is not None

    def power_points(sc):
        """A power cut keeps what the last fsync made durable: cuts before
        the calls between two syncs all leave the same state. One cut per
        durable state is enough: before call 1 and after each sync."""
        return [1] + [p.n + 1 for p in sc.points if p.op in SYNC_OPS and p.n < len(sc.points)]

    def plan(sc):
        ns = [args.at] if args.at is not None else range(1, len(sc.points) + 1)
        power = set(power_points(sc))
        for n in ns:
            if n < 1 or n > len(sc.points):
                continue
            p = sc.points[n - 1]
            if 'kill' in modes:
                yield h.crash_point, (sc, 'kill', n), 1
            if 'torn' in modes and p.op in WRITE_OPS and p.length >= 2:
                for shape in torn_shapes:
                    yield h.crash_point, (sc, 'torn', n, shape), 1
            if 'power' in modes and (n in power or args.at is not None):
                yield h.crash_point, (sc, 'power', n), 1
            for mode in ERROR_MODES:
                if mode in modes and (every_errno or (mode == 'eio') == (p.op in EIO_OPS)):
                    yield h.error_point, (sc, mode, n), 0
                    if args.long:
                        yield h.error_point, (sc, mode, n, True), 0
        if 'power' in modes and args.at is None:
            yield h.crash_point, (sc, 'power', None), 1

    def planned_crash_points(sc):
        return sum(points for _, _, points in plan(sc))

    add_baselines(specs)
    # Whatever the library's I/O pattern, the sweep reaches its size.
    seed = 1000
    while 0 < sum(planned_crash_points(s) for s in scenarios) < min_points and seed < 1400:
        add_baselines(['random-%d' % s for s in range(seed, seed + 8)])
        seed += 8
    if scenarios and not any(sc.points for sc in scenarios):
        total.violations.append('the shim saw no I/O call at all: is LD_PRELOAD effective '
                                '(a static or setuid workload ignores it)?')

    tasks = [pool.submit(func, *func_args) for sc in scenarios for func, func_args, _ in plan(sc)]

    failed_dirs = []
    progress = sys.stderr.isatty()
    for done, future in enumerate(concurrent.futures.as_completed(tasks), 1):
        if progress and (done % 100 == 0 or done == len(tasks)):
            print('\r%d/%d runs, %d violations' % (done, len(tasks), len(total.violations)),
                  end='\n' if done == len(tasks) else '', file=sys.stderr, flush=True)
        try:
            outcome, d = future.result()
        except Exception as e:  # a bug of the harness, not of the library
            total.violations.append('harness error: %r' % e)
            continue
        total.crash_points += outcome.crash_points
        total.error_points += outcome.error_points
        total.violations += outcome.violations
        total.warnings += outcome.warnings
        if outcome.violations:
            failed_dirs.append(d)
        elif not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    pool.shutdown()

    total.violations.sort()
    total.warnings.sort()
    elapsed = time.monotonic() - started

    print('scenarios: %d (%s)' % (len(scenarios), ', '.join(s.spec for s in scenarios)))
    for sc in scenarios:
        if args.verbose:
            print('  %-28s %-9s %3d I/O calls' % (sc.spec, sc.policy, len(sc.points)))
    if total.warnings:
        print('warnings: %d' % len(total.warnings))
        for w in total.warnings[:args.max_report if args.verbose else 10]:
            print('  WARNING ' + w)
    for v in total.violations[:args.max_report]:
        print('VIOLATION ' + v)
    if len(total.violations) > args.max_report:
        print('... and %d more violations' % (len(total.violations) - args.max_report))
    if total.violations or total.warnings:
        report = os.path.join(h.root, 'report.txt')
        with open(report, 'w', encoding='utf-8') as f:
            f.writelines('VIOLATION %s\n' % v for v in total.violations)
            f.writelines('WARNING %s\n' % w for w in total.warnings)
    if total.violations:
        print('the failing cases are kept in %s, every violation and warning in %s' % (h.root, report))
        print('reproduce one with: %s --workload %s --shim %s --scenario SCENARIO --mode MODE --at N --keep -v' %
              (sys.argv[0], args.workload, args.shim))
    if total.crash_points < min_points:
        print('VIOLATION only %d crash points, fewer than the %d asked for' % (total.crash_points, min_points))
        total.violations.append('too few crash points')
    print('crash points: %d, error injections: %d, violations: %d (%.1fs)' %
          (total.crash_points, total.error_points, len(total.violations), elapsed))

    if not total.violations and not args.keep:
        shutil.rmtree(h.root, ignore_errors=True)
    elif total.violations and not args.keep:
        # Keep only what failed.
        for entry in os.listdir(h.root):
            path = os.path.join(h.root, entry)
            if os.path.isdir(path) and path not in failed_dirs and '-baseline-' not in entry:
                shutil.rmtree(path, ignore_errors=True)
    return 1 if total.violations else 0


if __name__ == '__main__':
    sys.exit(main())
