// test-edit.js: creating and editing files in place from GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run as an ES module: gjs -m test-edit.js. Prints TAP.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Safetensors from 'gi://Safetensors?version=1';

import {assert, assertEqual, assertRejects, assertThrows, dataPath, run, test, tmpPath}
    from './tap.js';

Gio._promisify(Safetensors.File, 'open_async', 'open_finish');
Gio._promisify(Safetensors.File.prototype, 'commit_async', 'commit_finish');
Gio._promisify(Safetensors.Tensor.prototype, 'get_bytes_async', 'get_bytes_finish');
Gio._promisify(Safetensors.Writer.prototype, 'finish_async', 'finish_finish');

const EXAMPLE = dataPath('example.safetensors');

const {OpenFlags, DType} = Safetensors;
const BACKENDS = [
    ['mmap', OpenFlags.NONE],
    ['no-mmap', OpenFlags.NO_MMAP],
];

// ---- helpers ------------------------------------------------------------------------

function copyExample(name) {
    const path = tmpPath(name);
    Gio.File.new_for_path(EXAMPLE).copy(Gio.File.new_for_path(path),
        Gio.FileCopyFlags.OVERWRITE, null, null);
    return path;
}

function open(path, flags) {
    return Safetensors.File.open(Gio.File.new_for_path(path), flags, null);
}

// GBytes holding the bytes of a typed array (copied once, by GLib).
function bytesOf(typedArray) {
    return new GLib.Bytes(new Uint8Array(typedArray.buffer, typedArray.byteOffset,
        typedArray.byteLength));
}

// A typed array over a tensor's bytes: zero-copy when the file is mapped.
function viewOf(tensor, Type) {
    const u8 = tensor.get_bytes(null).toArray();
    return new Type(u8.buffer, u8.byteOffset, u8.byteLength / Type.BYTES_PER_ELEMENT);
}

function float32s(tensor) {
    return Array.from(viewOf(tensor, Float32Array));
}

function arange(n, k = 1) {
    return Array.from({length: n}, (_, i) => i * k);
}

function shapeOf(tensor) {
    const shape = tensor.get_shape();
    return shape === null ? [] : Array.from(shape);
}

// ---- tests ------------------------------------------------------------------------

for (const [label, backend] of BACKENDS) {
    test(`create/${label}`, () => {
        const path = tmpPath(`create-${label}.safetensors`);
        const sf = open(path, OpenFlags.READ_WRITE | OpenFlags.CREATE | backend);
        assertEqual(sf.get_n_tensors(), 0, 'a new file is empty');

        sf.add_tensor('weights', DType.F32, [2, 3], bytesOf(new Float32Array(arange(6, 0.5))));
        sf.add_tensor('ids', DType.I64, [4], bytesOf(new BigInt64Array([1n, -2n, 3n, 1n << 40n])));
        sf.add_tensor('zeros', DType.U8, [1000], null);
        sf.set_metadata_value('format', 'gjs');
        assert(sf.has_changes(), 'has changes');
        sf.commit(null);
        assert(!sf.has_changes(), 'committed');
        const stats = sf.get_commit_stats();
        assert(stats.header_bytes > 0, `commit stats: ${stats.header_bytes}`);
        sf.close(null);

        const reader = open(path, backend);
        assertEqual(reader.get_tensor_names().sort(), ['ids', 'weights', 'zeros'], 'names');
        assertEqual(reader.get_metadata(), {format: 'gjs'}, 'metadata');
        const weights = reader.lookup('weights');
        assertEqual(shapeOf(weights), [2, 3], 'shape');
        assertEqual(float32s(weights), arange(6, 0.5), 'weights');
        assertEqual(Array.from(viewOf(reader.lookup('ids'), BigInt64Array)),
            [1n, -2n, 3n, 1n << 40n], 'ids');
        assert(viewOf(reader.lookup('zeros'), Uint8Array).every(x => x === 0), 'zeros');
    });

    test(`zero-copy/${label}`, () => {
        const sf = open(EXAMPLE, backend);
        const hello = sf.lookup('hello');
        const first = hello.get_bytes(null);
        const second = hello.get_bytes(null);
        const u8 = first.toArray();
        assert(u8 instanceof Uint8Array, 'toArray() gives a Uint8Array');
        assertEqual(u8.byteLength, 64, 'byteLength');
        // Mapped: both GBytes are slices of the one mapping. Not mapped:
        // each read makes its own buffer.
        assertEqual(Safetensors.bytes_get_address(first) === Safetensors.bytes_get_address(second),
            backend === OpenFlags.NONE, 'same address');
        assertEqual(Array.from(new Float32Array(u8.buffer, u8.byteOffset, 16)), arange(16), 'hello');
    });

    test(`edit-in-place/${label}`, () => {
        const path = copyExample(`edit-${label}.safetensors`);
        const sf = open(path, OpenFlags.READ_WRITE | backend);
        const hello = sf.lookup('hello');

        // Tensor.write() lands in the file at once, in any backend.
        hello.write(4 * 4, bytesOf(new Float32Array([40, 41, 42, 43])).toArray(), null);
        assertEqual(float32s(hello).slice(4, 8), [40, 41, 42, 43], 'after write()');

        // With a mapping, the typed array itself is the file.
        if (backend === OpenFlags.NONE) {
            const view = viewOf(hello, Float32Array);
            view[0] = -1;
            assertEqual(float32s(sf.lookup('hello'))[0], -1, 'write through the mapping');
        }

        sf.replace_tensor('mask', DType.U16, [3], bytesOf(new Uint16Array([7, 8, 9])));
        sf.rename_tensor('embedding.bias', 'bias');
        sf.remove_tensor('step');
        sf.set_metadata_value('format', null);
        sf.set_metadata_value('edited-by', 'gjs');
        assertEqual(sf.get_tensor_names().includes('step'), false, 'step removed');
        sf.commit(null);
        sf.close(null);

        const reader = open(path, backend);
        assertEqual(reader.get_tensor_names().sort(),
            ['bias', 'embedding.weight', 'empty', 'hello', 'mask'], 'names after edit');
        assertEqual(reader.get_metadata(),
            {description: 'safetensors-glib example', 'edited-by': 'gjs'}, 'metadata after edit');
        const mask = reader.lookup('mask');
        assertEqual(mask.get_dtype(), DType.U16, 'mask dtype');
        assertEqual(Array.from(viewOf(mask, Uint16Array)), [7, 8, 9], 'mask values');
        const expected = arange(16);
        expected.splice(4, 4, 40, 41, 42, 43);
        if (backend === OpenFlags.NONE)
            expected[0] = -1;
        assertEqual(float32s(reader.lookup('hello')), expected, 'hello after edit');
    });

    test(`rollback/${label}`, () => {
        const path = copyExample(`rollback-${label}.safetensors`);
        const before = GLib.file_get_contents(path)[1];
        const sf = open(path, OpenFlags.READ_WRITE | backend);
        sf.add_tensor('new', DType.F64, [100], null);
        sf.remove_tensor('hello');
        sf.rollback();
        assert(!sf.has_changes(), 'nothing pending');
        assert(sf.contains('hello') && !sf.contains('new'), 'as committed');
        sf.close(null);
        assertEqual(GLib.file_get_contents(path)[1], before, 'file unchanged');
    });

    test(`async/${label}`, async () => {
        const path = copyExample(`async-${label}.safetensors`);
        const sf = await Safetensors.File.open_async(Gio.File.new_for_path(path),
            OpenFlags.READ_WRITE | backend, GLib.PRIORITY_DEFAULT, null);
        assert(sf instanceof Safetensors.File, 'open_async() resolves to a File');
        sf.add_tensor('async', DType.I32, [3], bytesOf(new Int32Array([1, 2, 3])));

        const commit = sf.commit_async(GLib.PRIORITY_DEFAULT, null);
        // The layout is planned: edits wait for the commit to finish.
        assertThrows(() => sf.remove_tensor('hello'), Gio.IOErrorEnum, Gio.IOErrorEnum.BUSY,
            'edit during commit');
        assertEqual(await commit, true, 'commit_async()');
        sf.close(null);

        const reader = await Safetensors.File.open_async(Gio.File.new_for_path(path),
            backend, GLib.PRIORITY_DEFAULT, null);
        const bytes = await reader.lookup('async').get_bytes_async(GLib.PRIORITY_DEFAULT, null);
        const u8 = bytes.toArray();
        assertEqual(Array.from(new Int32Array(u8.buffer, u8.byteOffset, 3)), [1, 2, 3], 'async');
    });

    test(`keep-free/${label}`, () => {
        const path = tmpPath(`keep-free-${label}.safetensors`);
        const writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE);
        writer.add_tensor('big', DType.F64, [1024], bytesOf(new Float64Array(1024).fill(1)));
        writer.add_tensor('small', DType.F32, [4], bytesOf(new Float32Array([1, 2, 3, 4])));
        writer.begin(Gio.File.new_for_path(path), null);
        writer.finish(null);

        const sf = open(path, OpenFlags.READ_WRITE | OpenFlags.KEEP_FREE | backend);
        const offset = sf.lookup('small').get_file_offset();
        sf.remove_tensor('big');
        sf.commit(null);
        // what the header does not take of the freed range stays free
        const free = sf.get_free_bytes();
        assert(free > 0 && free <= 8192, `free bytes: ${free}`);
        assertEqual(sf.lookup('small').get_file_offset(), offset, 'nothing moved');
        assertEqual(sf.get_commit_stats().bytes_moved, 0, 'bytes moved');
        sf.compact(null);
        assertEqual(sf.get_free_bytes(), 0, 'compacted');
        assertEqual(float32s(sf.lookup('small')), [1, 2, 3, 4], 'small survived');
        sf.close(null);
    });

    test(`errors/${label}`, () => {
        const path = copyExample(`errors-${label}.safetensors`);
        const E = Safetensors.Error;
        const reader = open(path, backend);
        assertThrows(() => reader.remove_tensor('hello'), E, E.READ_ONLY, 'edit a read-only file');
        assertThrows(() => reader.lookup('nope'), E, E.TENSOR_NOT_FOUND, 'lookup');

        const sf = open(path, OpenFlags.READ_WRITE | backend);
        const locked = assertThrows(() => open(path, OpenFlags.READ_WRITE | backend), E, E.LOCKED,
            'second writer');
        assertEqual(GLib.quark_to_string(locked.domain), 'safetensors-error-quark', 'domain name');
        assertEqual(locked.domain, Safetensors.error_quark(), 'domain quark');
        assertThrows(() => sf.add_tensor('hello', DType.U8, [1], null), E, E.DUPLICATE_NAME,
            'duplicate');
        assertThrows(() => sf.add_tensor('__metadata__', DType.U8, [1], null), E, E.RESERVED_NAME,
            'reserved');
        assertThrows(() => sf.add_tensor('x', DType.F32, [3], bytesOf(new Uint8Array(5))),
            E, E.INVALID_ARGUMENT, 'wrong data size');
        assertThrows(() => sf.lookup('hello').write(60, new Uint8Array(8), null),
            E, E.INVALID_ARGUMENT, 'write past the end');
        assertThrows(() => sf.rename_tensor('nope', 'x'), E, E.TENSOR_NOT_FOUND, 'rename');
        sf.close(null);
        assertThrows(() => sf.remove_tensor('hello'), Gio.IOErrorEnum, Gio.IOErrorEnum.CLOSED,
            'edit after close');
        // closing released the lock
        open(path, OpenFlags.READ_WRITE | backend).close(null);

        assertThrows(() => open(tmpPath('missing.safetensors'), OpenFlags.READ_WRITE | backend),
            Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, 'missing file');
    });

    test(`async-errors/${label}`, async () => {
        const path = tmpPath(`bad-${label}.safetensors`);
        GLib.file_set_contents(path, new Uint8Array([1, 2, 3]));
        await assertRejects(Safetensors.File.open_async(Gio.File.new_for_path(path),
            OpenFlags.READ_WRITE | backend, GLib.PRIORITY_DEFAULT, null),
        Safetensors.Error, Safetensors.Error.HEADER_TOO_SMALL, 'open_async(garbage)');
    });
}

test('writer-chunks', async () => {
    const path = tmpPath('writer.safetensors');
    const data = new Float32Array(arange(1000));
    const writer = Safetensors.Writer.new(Safetensors.WriterFlags.NONE);
    writer.set_metadata_value('format', 'gjs');
    writer.add_tensor('t', DType.F32, [10, 100], null);
    writer.begin(Gio.File.new_for_path(path), null);
    const u8 = new Uint8Array(data.buffer);
    for (let i = 0; i < u8.byteLength; i += 1000)
        writer.write_chunk('t', u8.subarray(i, i + 1000), null);
    assertEqual(await writer.finish_async(GLib.PRIORITY_DEFAULT, null), true, 'finish_async()');

    const sf = open(path, OpenFlags.NONE);
    assertEqual(shapeOf(sf.lookup('t')), [10, 100], 'shape');
    assertEqual(float32s(sf.lookup('t')), arange(1000), 'data');
});

run();
