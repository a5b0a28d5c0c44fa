// tap.js: the assertions and TAP runner shared by the GJS tests
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A test module registers its tests with test() and ends with run():
//
//     import {assertEqual, run, test} from './tap.js';
//     test('name', async () => { ... });
//     run();
//
// run() prints TAP, runs each test (awaited, so async tests get a GLib
// main loop), removes the scratch folder of tmpPath() and exits 1 if any
// test failed.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';

// ---- assertions -----------------------------------------------------------------

export class AssertionError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AssertionError';
    }
}

// JSON with object keys sorted, so that dictionaries compare by content, and
// typed arrays as plain arrays.
export function repr(value) {
    return JSON.stringify(value, (_, v) => {
        if (typeof v === 'bigint')
            return `${v}n`;
        if (ArrayBuffer.isView(v))
            return Array.from(v);
        if (v !== null && typeof v === 'object' && !Array.isArray(v) &&
            Object.getPrototypeOf(v) === Object.prototype)
            return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
        return v;
    });
}

export function assert(condition, message = 'assertion failed') {
    if (!condition)
        throw new AssertionError(message);
}

export function assertEqual(actual, expected, what = 'value') {
    if (repr(actual) !== repr(expected))
        throw new AssertionError(`${what}: expected ${repr(expected)}, got ${repr(actual)}`);
}

// domain: an error enum as GJS exposes it (Safetensors.Error, Gio.IOErrorEnum).
export function assertError(error, domain, code, what) {
    assert(error !== null, `${what}: did not throw`);
    assert(error instanceof GLib.Error, `${what}: threw ${error}, not a GLib.Error`);
    assert(error.matches(domain, code),
        `${what}: expected code ${code}, got ${GLib.quark_to_string(error.domain)} ${error.code}: ${error.message}`);
    return error;
}

export function assertThrows(func, domain, code, what) {
    let error = null;
    try {
        func();
    } catch (e) {
        error = e;
    }
    return assertError(error, domain, code, what);
}

export async function assertRejects(promise, domain, code, what) {
    let error = null;
    try {
        await promise;
    } catch (e) {
        error = e;
    }
    return assertError(error, domain, code, what);
}

// ---- test data and scratch files --------------------------------------------------

// tests/data, or what the meson test environment says it is
export const DATA_DIR = GLib.getenv('SAFETENSORS_TEST_DATA') ??
    GLib.build_filenamev([GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]),
        '..', 'data']);

export function dataPath(...parts) {
    return GLib.build_filenamev([DATA_DIR, ...parts]);
}

let tmpDir = null;

// A path in a scratch folder made on first use and removed by run().
export function tmpPath(name) {
    if (tmpDir === null) {
        const program = GLib.path_get_basename(System.programPath ?? 'gjs').replace(/\.js$/, '');
        tmpDir = GLib.Dir.make_tmp(`safetensors-${program}-XXXXXX`);
    }
    return GLib.build_filenamev([tmpDir, name]);
}

function removeTree(file) {
    const type = file.query_file_type(Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    if (type === Gio.FileType.DIRECTORY) {
        const children = file.enumerate_children('standard::name',
            Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
        for (let info = children.next_file(null); info !== null; info = children.next_file(null))
            removeTree(file.get_child(info.get_name()));
        children.close(null);
    }
    file.delete(null);
}

// ---- runner -----------------------------------------------------------------------

class SkipTest extends Error {
    constructor(reason) {
        super(reason);
        this.name = 'SkipTest';
    }
}

// Ends the calling test, reported as skipped.
export function skip(reason) {
    throw new SkipTest(reason);
}

const tests = [];

export function test(name, func) {
    tests.push([name, func]);
}

async function runTests() {
    let failures = 0;
    print(`1..${tests.length}`);
    for (const [i, [name, func]] of tests.entries()) {
        try {
            // eslint-disable-next-line no-await-in-loop
            await func();
            print(`ok ${i + 1} ${name}`);
        } catch (e) {
            if (e instanceof SkipTest) {
                print(`ok ${i + 1} ${name} # SKIP ${e.message}`);
                continue;
            }
            failures++;
            print(`not ok ${i + 1} ${name}`);
            for (const line of `${e}\n${e.stack ?? ''}`.trimEnd().split('\n'))
                print(`# ${line}`);
        }
    }
    return failures;
}

export function run() {
    let failures = 0;
    const loop = new GLib.MainLoop(null, false);
    runTests().then(n => {
        failures = n;
    }).catch(e => {
        failures++;
        print(`Bail out! ${e}`);
    }).finally(() => loop.quit());
    loop.run();

    if (tmpDir !== null)
        removeTree(Gio.File.new_for_path(tmpDir));
    System.exit(failures > 0 ? 1 : 0);
}
