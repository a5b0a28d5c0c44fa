// test-read.js: reading through the Safetensors-1 typelib from GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run as an ES module: gjs -m test-read.js. Prints TAP.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Safetensors from 'gi://Safetensors?version=1';

import {DATA_DIR, assert, assertEqual, assertRejects, assertThrows, dataPath, run, skip, test,
    tmpPath} from './tap.js';

Gio._promisify(Safetensors.File, 'open_async', 'open_finish');
Gio._promisify(Safetensors.Tensor.prototype, 'get_bytes_async', 'get_bytes_finish');

const EXAMPLE = dataPath('example.safetensors');

// name, dtype, shape, data_offsets, in data-offset order
const EXAMPLE_TENSORS = [
    ['step', Safetensors.DType.I64, [], [0, 8]],
    ['embedding.bias', Safetensors.DType.F64, [6], [8, 56]],
    ['hello', Safetensors.DType.F32, [4, 4], [56, 120]],
    ['embedding.weight', Safetensors.DType.BF16, [8, 6], [120, 216]],
    ['empty', Safetensors.DType.F16, [0, 3], [216, 216]],
    ['mask', Safetensors.DType.BOOL, [2, 3], [216, 222]],
];
const NAMES = EXAMPLE_TENSORS.map(t => t[0]);
const HEADER_SIZE = 464;
const DATA_START = 472;
const FILE_SIZE = 694;
const ALL_FLAGS = [
    ['none', Safetensors.OpenFlags.NONE],
    ['no-mmap', Safetensors.OpenFlags.NO_MMAP],
];

// ---- Safetensors.Error checks ----------------------------------------------------

// Beyond matches(): the domain is the registered quark, under its documented name.
function assertSafetensorsError(error, code, what) {
    assertEqual(error.domain, Safetensors.error_quark(), `${what}: error domain`);
    assertEqual(GLib.quark_to_string(error.domain), 'safetensors-error-quark', `${what}: domain name`);
    assertEqual(error.code, code, `${what}: error code (${error.message})`);
    return error;
}

function assertThrowsSafetensors(func, code, what) {
    return assertSafetensorsError(assertThrows(func, Safetensors.Error, code, what), code, what);
}

async function assertRejectsSafetensors(promise, code, what) {
    const error = await assertRejects(promise, Safetensors.Error, code, what);
    return assertSafetensorsError(error, code, what);
}

// ---- helpers ------------------------------------------------------------------

function openExample(flags) {
    return Safetensors.File.open(Gio.File.new_for_path(EXAMPLE), flags, null);
}

// A scalar's shape is NULL with n_dims 0 in C.
function shapeOf(shape) {
    return shape === null ? [] : Array.from(shape);
}

function float32s(bytes) {
    const u8 = bytes.toArray();
    assert(u8 instanceof Uint8Array, 'GLib.Bytes.toArray() gives a Uint8Array');
    assert(u8.byteLength % 4 === 0, `${u8.byteLength} bytes is not a number of floats`);
    const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    const values = [];
    for (let i = 0; i < u8.byteLength; i += 4)
        values.push(view.getFloat32(i, true));
    return values;
}

function arange(n) {
    return Array.from({length: n}, (_, i) => i);
}

function writeSafetensors(path, header, data = new Uint8Array(0)) {
    let text = JSON.stringify(header);
    text += ' '.repeat((8 - text.length % 8) % 8);
    const encoded = new TextEncoder().encode(text);
    const contents = new Uint8Array(8 + encoded.length + data.length);
    new DataView(contents.buffer).setBigUint64(0, BigInt(encoded.length), true);
    contents.set(encoded, 8);
    contents.set(data, 8 + encoded.length);
    GLib.file_set_contents(path, contents);
    return path;
}

// ---- tests ------------------------------------------------------------------

for (const [label, flags] of ALL_FLAGS) {
    test(`open/${label}`, () => {
        const st = openExample(flags);
        assert(st instanceof Safetensors.File, 'open() returns a Safetensors.File');
        assertEqual(st.get_file().get_path(), EXAMPLE, 'get_file()');
        assertEqual(st.get_flags(), flags, 'get_flags()');
        assertEqual(st.flags, flags, 'flags property');
        assertEqual(st.is_mapped(), flags === Safetensors.OpenFlags.NONE, 'is_mapped()');
        assertEqual(st.get_header_size(), HEADER_SIZE, 'header size');
        assertEqual(st.get_data_start(), DATA_START, 'data start');
        assertEqual(st.get_size(), FILE_SIZE, 'file size');

        const header = st.get_header_bytes();
        assertEqual(header.get_size(), HEADER_SIZE, 'header bytes size');
        const text = new TextDecoder().decode(header.toArray());
        assert(text.startsWith('{"__metadata__":{"description":"safetensors-glib example"'),
            `header text: ${text}`);
    });

    test(`open-async/${label}`, async () => {
        const st = await Safetensors.File.open_async(Gio.File.new_for_path(EXAMPLE),
            flags, GLib.PRIORITY_DEFAULT, null);
        assert(st instanceof Safetensors.File, 'open_async() resolves to a Safetensors.File');
        assertEqual(st.get_tensor_names(), NAMES, 'tensor names');
        assertEqual(st.is_mapped(), flags === Safetensors.OpenFlags.NONE, 'is_mapped()');
    });

    test(`new-for-path/${label}`, () => {
        const st = Safetensors.File.new_for_path(EXAMPLE, flags);
        assertEqual(st.get_n_tensors(), 6, 'n_tensors');
        assertEqual(st.get_flags(), flags, 'flags');
    });

    test(`names/${label}`, () => {
        const st = openExample(flags);
        assertEqual(st.get_n_tensors(), 6, 'n_tensors');
        assertEqual(st.get_tensor_names(), NAMES, 'tensor names');
        assert(st.contains('hello'), 'contains("hello")');
        assert(!st.contains('hell'), '!contains("hell")');
    });

    test(`list-model/${label}`, () => {
        const st = openExample(flags);
        assert(st instanceof Gio.ListModel, 'a Gio.ListModel');
        assertEqual(st.get_item_type(), Safetensors.Tensor.$gtype, 'item type');
        assertEqual(st.get_n_items(), 6, 'n_items');
        NAMES.forEach((name, i) => {
            const item = st.get_item(i);
            assert(item instanceof Safetensors.Tensor, `item ${i} is a Safetensors.Tensor`);
            assertEqual(item.get_name(), name, `item ${i}`);
        });
        assertEqual(st.get_item(6), null, 'item past the end');
    });

    test(`lookup/${label}`, () => {
        const st = openExample(flags);
        for (const [name, dtype, shape, [begin, end]] of EXAMPLE_TENSORS) {
            const t = st.lookup(name);
            const nElements = shape.reduce((a, b) => a * b, 1);
            assertEqual(t.get_name(), name, 'get_name()');
            assertEqual(t.name, name, `${name}: name property`);
            assertEqual(t.get_dtype(), dtype, `${name}: get_dtype()`);
            assertEqual(t.dtype, dtype, `${name}: dtype property`);
            assertEqual(t.get_n_dims(), shape.length, `${name}: get_n_dims()`);
            assertEqual(t.n_dims, shape.length, `${name}: n-dims property`);
            assertEqual(shapeOf(t.get_shape()), shape, `${name}: get_shape()`);
            assertEqual(t.get_n_elements(), nElements, `${name}: get_n_elements()`);
            assertEqual(t.n_elements, nElements, `${name}: n-elements property`);
            assertEqual(t.get_n_bytes(), end - begin, `${name}: get_n_bytes()`);
            assertEqual(t.n_bytes, end - begin, `${name}: n-bytes property`);
            assertEqual(t.nBytes, end - begin, `${name}: nBytes property`);
            assertEqual(t.get_data_offsets(), [begin, end], `${name}: get_data_offsets()`);
            assertEqual(t.get_file_offset(), DATA_START + begin, `${name}: get_file_offset()`);
            assertEqual(t.file_offset, DATA_START + begin, `${name}: file-offset property`);
            assertEqual(t.get_n_bytes() * 8, nElements * Safetensors.dtype_get_bits(dtype),
                `${name}: bits`);
        }
    });

    test(`get-bytes/${label}`, () => {
        const st = openExample(flags);
        const hello = st.lookup('hello').get_bytes(null);
        assertEqual(hello.get_size(), 64, 'hello size');
        assertEqual(float32s(hello), arange(16), 'hello values');

        const step = st.lookup('step').get_bytes(null).toArray();
        const view = new DataView(step.buffer, step.byteOffset, step.byteLength);
        assertEqual(view.getBigInt64(0, true), 1234n, 'step value');

        const mask = st.lookup('mask').get_bytes(null).toArray();
        assertEqual(Array.from(mask), [1, 0, 1, 0, 1, 1], 'mask values');

        assertEqual(st.lookup('empty').get_bytes(null).get_size(), 0, 'empty size');
    });

    test(`get-bytes-async/${label}`, async () => {
        const st = openExample(flags);
        const bytes = await st.lookup('hello').get_bytes_async(GLib.PRIORITY_DEFAULT, null);
        assertEqual(float32s(bytes), arange(16), 'hello values');
    });

    test(`read-slice/${label}`, () => {
        const hello = openExample(flags).lookup('hello');

        let [bytes, shape] = hello.read_slice(Safetensors.Slice.parse('1:3, ::2'), null);
        assertEqual(shapeOf(shape), [2, 2], '"1:3, ::2" shape');
        assertEqual(float32s(bytes), [4, 6, 8, 10], '"1:3, ::2" values');

        [bytes, shape] = hello.read_slice(Safetensors.Slice.parse('-1'), null);
        assertEqual(shapeOf(shape), [4], '"-1" shape');
        assertEqual(float32s(bytes), [12, 13, 14, 15], '"-1" values');

        [bytes, shape] = hello.read_slice(Safetensors.Slice.parse('::-1, 0'), null);
        assertEqual(shapeOf(shape), [4], '"::-1, 0" shape');
        assertEqual(float32s(bytes), [12, 8, 4, 0], '"::-1, 0" values');

        [bytes, shape] = hello.read_slice(Safetensors.Slice.parse('2, 3'), null);
        assertEqual(shapeOf(shape), [], '"2, 3" shape');
        assertEqual(float32s(bytes), [11], '"2, 3" values');

        const s = new Safetensors.Slice();
        s.add_range(1, 3, 1);
        s.add_range(0, 4, 2);
        assertEqual(s.get_n_items(), 2, 'hand-built slice items');
        [bytes, shape] = hello.read_slice(s, null);
        assertEqual(shapeOf(shape), [2, 2], 'hand-built slice shape');
        assertEqual(float32s(bytes), [4, 6, 8, 10], 'hand-built slice values');

        const e = Safetensors.Slice.new();
        e.add_ellipsis();
        e.add_index(-1);
        [bytes, shape] = openExample(flags).lookup('mask').read_slice(e, null);
        assertEqual(shapeOf(shape), [2], '"..., -1" shape');
        assertEqual(Array.from(bytes.toArray()), [1, 1], '"..., -1" values');
    });

    test(`slice-none/${label}`, () => {
        // an omitted bound, as in NumPy's a[::-2]; the constant is G_MININT64
        assertEqual(Safetensors.SLICE_NONE, -(2 ** 63), 'SLICE_NONE');
        const s = new Safetensors.Slice();
        s.add_range(Safetensors.SLICE_NONE, Safetensors.SLICE_NONE, -2);
        const [bytes, shape] = openExample(flags).lookup('hello').read_slice(s, null);
        assertEqual(shapeOf(shape), [2, 4], '"::-2" shape');
        assertEqual(float32s(bytes), [12, 13, 14, 15, 4, 5, 6, 7], '"::-2" values');
    });

    test(`read-slice-out-of-range/${label}`, () => {
        const hello = openExample(flags).lookup('hello');
        for (const expression of ['4', '-5', '0, 4', '0, 0, 0']) {
            assertThrowsSafetensors(
                () => hello.read_slice(Safetensors.Slice.parse(expression), null),
                Safetensors.Error.INVALID_SLICE, `slice "${expression}"`);
        }
    });

    test(`metadata/${label}`, () => {
        const st = openExample(flags);
        assertEqual(st.get_metadata(),
            {description: 'safetensors-glib example', format: 'pt'}, 'get_metadata()');
        assertEqual(st.get_metadata_keys(), ['description', 'format'], 'get_metadata_keys()');
        assertEqual(st.get_metadata_value('format'), 'pt', 'format');
        assertEqual(st.get_metadata_value('description'), 'safetensors-glib example', 'description');
        assertEqual(st.get_metadata_value('missing'), null, 'missing key');
    });

    test(`lookup-missing/${label}`, () => {
        const st = openExample(flags);
        const e = assertThrowsSafetensors(() => st.lookup('nope'),
            Safetensors.Error.TENSOR_NOT_FOUND, 'lookup("nope")');
        assert(e.message.includes('nope'), `message names the tensor: ${e.message}`);
    });

    test(`invalid-header-length/${label}`, () => {
        const path = tmpPath(`truncated-${label}.safetensors`);
        const contents = new Uint8Array(8);
        contents[0] = 60;
        GLib.file_set_contents(path, contents);
        const e = assertThrowsSafetensors(
            () => Safetensors.File.open(Gio.File.new_for_path(path), flags, null),
            Safetensors.Error.INVALID_HEADER_LENGTH, 'open(truncated)');
        assert(e.message.includes(`truncated-${label}.safetensors`),
            `message names the file: ${e.message}`);
    });

    test(`invalid-offset/${label}`, () => {
        const path = writeSafetensors(tmpPath(`overlap-${label}.safetensors`), {
            a: {dtype: 'U8', shape: [4], data_offsets: [0, 4]},
            b: {dtype: 'U8', shape: [4], data_offsets: [2, 6]},
        }, new Uint8Array(6));
        assertThrowsSafetensors(
            () => Safetensors.File.open(Gio.File.new_for_path(path), flags, null),
            Safetensors.Error.INVALID_OFFSET, 'open(overlap)');
    });

    test(`open-async-error/${label}`, async () => {
        const path = writeSafetensors(tmpPath(`info-${label}.safetensors`), {
            a: {dtype: 'F32', shape: [2], data_offsets: [0, 4]},
        }, new Uint8Array(4));
        await assertRejectsSafetensors(
            Safetensors.File.open_async(Gio.File.new_for_path(path), flags,
                GLib.PRIORITY_DEFAULT, null),
            Safetensors.Error.TENSOR_INVALID_INFO, 'open_async(bad info)');
    });
}

test('slice-parse-error', () => {
    assertThrowsSafetensors(() => Safetensors.Slice.parse('x'),
        Safetensors.Error.INVALID_SLICE, 'parse("x")');
});

test('dtype', () => {
    assertEqual(Safetensors.dtype_to_string(Safetensors.DType.BF16), 'BF16', 'to_string');
    assertEqual(Safetensors.dtype_get_bits(Safetensors.DType.F64), 64, 'bits');
    assertEqual(Safetensors.dtype_from_string('F32'), [true, Safetensors.DType.F32], 'from_string');
    assertEqual(Safetensors.dtype_from_string('f32')[0], false, 'from_string is case-sensitive');
});

test('error-enum', () => {
    assertEqual(Safetensors.Error.INVALID_OFFSET, 5, 'INVALID_OFFSET');
    assertEqual(Safetensors.Error.TENSOR_NOT_FOUND, 11, 'TENSOR_NOT_FOUND');
    assertEqual(GLib.quark_to_string(Safetensors.error_quark()), 'safetensors-error-quark', 'quark');
});

test('missing-file-is-io-error', () => {
    const file = Gio.File.new_for_path(tmpPath('missing.safetensors'));
    let error = null;
    try {
        Safetensors.File.open(file, Safetensors.OpenFlags.NONE, null);
    } catch (e) {
        error = e;
    }
    assert(error !== null, 'opening a missing file throws');
    assert(error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND),
        `G_IO_ERROR_NOT_FOUND, got ${error}`);
});

// A GFile without a local path goes through a seekable stream.
test('non-local-file', () => {
    const compiler = GLib.find_program_in_path('glib-compile-resources');
    if (compiler === null)
        skip('glib-compile-resources is not installed');

    const xml = tmpPath('example.gresource.xml');
    GLib.file_set_contents(xml,
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<gresources><gresource prefix="/org/safetensors/gjs">' +
        '<file>example.safetensors</file></gresource></gresources>\n');
    const bundle = tmpPath('example.gresource');
    Gio.Subprocess.new([compiler, '--sourcedir', DATA_DIR, '--target', bundle, xml],
        Gio.SubprocessFlags.NONE).wait_check(null);
    const resource = Gio.Resource.load(bundle);
    resource._register();
    try {
        const file = Gio.File.new_for_uri('resource:///org/safetensors/gjs/example.safetensors');
        assertEqual(file.get_path(), null, 'resource has no path');
        const st = Safetensors.File.open(file, Safetensors.OpenFlags.NONE, null);
        assertEqual(st.is_mapped(), false, 'is_mapped()');
        assertEqual(st.get_tensor_names(), NAMES, 'tensor names');
        assertEqual(st.get_size(), FILE_SIZE, 'size');
        const hello = st.lookup('hello');
        assertEqual(float32s(hello.get_bytes(null)), arange(16), 'hello values');
        const [bytes, shape] = hello.read_slice(Safetensors.Slice.parse('1:3, ::2'), null);
        assertEqual(shapeOf(shape), [2, 2], 'slice shape');
        assertEqual(float32s(bytes), [4, 6, 8, 10], 'slice values');
    } finally {
        resource._unregister();
    }
});

run();
