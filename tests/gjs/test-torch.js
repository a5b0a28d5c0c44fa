// test-torch.js: importing PyTorch checkpoints through the Safetensors-1 typelib from GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run as an ES module: gjs -m test-torch.js. Prints TAP.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Safetensors from 'gi://Safetensors?version=1';

import {assert, assertEqual, assertThrows, dataPath, run, test, tmpPath} from './tap.js';

Gio._promisify(Safetensors.PytorchImport.prototype, 'write_async', 'write_finish');

const {ImportFlags} = Safetensors;
const E = Safetensors.Error;

// What tests/data/torch/generate.py saw PyTorch load, one entry per
// (file, key, flags): tensors sorted by name with dtype, shape and SHA-256.
const EXPECTED = JSON.parse(new TextDecoder().decode(
    GLib.file_get_contents(dataPath('torch', 'expected.json'))[1]));

function expected(file, key = null, all = false, extrasToMetadata = false) {
    const entry = EXPECTED.find(e => e.file === file && e.key === key && e.all === all &&
        e.extras_to_metadata === extrasToMetadata);
    assert(entry !== undefined, `expected.json has no entry for ${file}`);
    return entry;
}

function torchFile(...parts) {
    return Gio.File.new_for_path(dataPath('torch', ...parts));
}

function load(name, flags = ImportFlags.NONE, key = null) {
    return Safetensors.PytorchImport.new(torchFile(name), flags, key, null);
}

function byName(a, b) {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// name, dtype, shape of each tensor an import plans to write
function plannedTensors(imp) {
    const tensors = [];
    for (let i = 0; i < imp.get_n_tensors(); i++) {
        tensors.push({
            name: imp.get_tensor_name(i),
            dtype: Safetensors.dtype_to_string(imp.get_tensor_dtype(i)),
            shape: Array.from(imp.get_tensor_shape(i) ?? []),
        });
    }
    return tensors.sort(byName);
}

// The written file holds exactly the expected tensors, byte for byte.
function checkOutput(path, entry) {
    const sf = Safetensors.File.open(Gio.File.new_for_path(path), Safetensors.OpenFlags.NONE, null);
    assertEqual(sf.get_n_tensors(), entry.tensors.length, 'tensors written');
    assertEqual(sf.get_metadata(), entry.metadata, 'metadata written');
    for (const {name, dtype, shape, sha256} of entry.tensors) {
        const tensor = sf.lookup(name);
        assertEqual(Safetensors.dtype_to_string(tensor.dtype), dtype, `${name}: dtype`);
        assertEqual(Array.from(tensor.get_shape() ?? []), shape, `${name}: shape`);
        assertEqual(GLib.compute_checksum_for_bytes(GLib.ChecksumType.SHA256,
            tensor.get_bytes(null)), sha256, `${name}: SHA-256`);
    }
}

// Safetensors.import_pytorch_async() with a promise; the progress callback
// gets (current, total) in bytes.
function importPytorch(source, destination, flags, key, onProgress) {
    return new Promise((resolve, reject) => {
        Safetensors.import_pytorch_async(source, destination, flags, key,
            GLib.PRIORITY_DEFAULT, null, onProgress, (_, result) => {
                try {
                    resolve(Safetensors.import_pytorch_finish(result));
                } catch (e) {
                    reject(e);
                }
            });
    });
}

// ---- tests ------------------------------------------------------------------------

test('plan', () => {
    const entry = expected('model.pt');
    const imp = load('model.pt');
    assert(imp instanceof Safetensors.PytorchImport, 'new() returns a Safetensors.PytorchImport');
    assertEqual(imp.get_source().get_path(), dataPath('torch', 'model.pt'), 'get_source()');
    assertEqual(imp.get_n_tensors(), 28, 'get_n_tensors()');

    const tensors = plannedTensors(imp);
    assertEqual(tensors.find(t => t.name === 'conv.weight'),
        {name: 'conv.weight', dtype: 'F32', shape: [2, 1, 3, 3]}, 'conv.weight');
    assertEqual(tensors, entry.tensors.map(({name, dtype, shape}) => ({name, dtype, shape})),
        'names, dtypes and shapes');

    let total = 0;
    for (let i = 0; i < imp.get_n_tensors(); i++) {
        const shape = Array.from(imp.get_tensor_shape(i) ?? []);
        const bits = Safetensors.dtype_get_bits(imp.get_tensor_dtype(i));
        assertEqual(imp.get_tensor_size(i), shape.reduce((a, b) => a * b, 1) * bits / 8,
            `${imp.get_tensor_name(i)}: get_tensor_size()`);
        total += imp.get_tensor_size(i);
    }
    assertEqual(imp.get_total_bytes(), total, 'get_total_bytes(): the sum of the tensor sizes');
    assertEqual(imp.total_bytes, imp.get_total_bytes(), 'total-bytes property');
    assertEqual(imp.bytes_written, 0, 'nothing written yet');

    assertEqual(imp.get_aliases(), {'lm_head.weight': 'embed.weight'}, 'get_aliases()');
    assertEqual(imp.get_skipped(), [], 'get_skipped()');
    assertEqual(imp.get_metadata().format, 'pt', 'format');
    assertEqual(imp.get_metadata(), entry.metadata, 'get_metadata()');
});

test('write-async', async () => {
    const imp = load('model.pt');
    const path = tmpPath('model.safetensors');
    const notified = [];
    const id = imp.connect('notify::bytes-written', () => notified.push(imp.bytes_written));
    try {
        assertEqual(await imp.write_async(Gio.File.new_for_path(path), GLib.PRIORITY_DEFAULT, null),
            true, 'write_async()');
    } finally {
        imp.disconnect(id);
    }

    assert(notified.length > 0, 'bytes-written was notified');
    notified.forEach((n, i) => assert(i === 0 || n >= notified[i - 1],
        `bytes-written went back: ${notified}`));
    assertEqual(notified.at(-1), imp.get_total_bytes(), 'last notification');
    assertEqual(imp.get_bytes_written(), imp.get_total_bytes(), 'get_bytes_written()');
    checkOutput(path, expected('model.pt'));
});

test('import-pytorch-async', async () => {
    const path = tmpPath('async.safetensors');
    const progress = [];
    const done = await importPytorch(torchFile('model.pt'), Gio.File.new_for_path(path),
        ImportFlags.NONE, null, (current, total) => progress.push([current, total]));
    assertEqual(done, true, 'import_pytorch_finish()');

    assert(progress.length > 0, 'the progress callback was called');
    const total = progress[0][1];
    assert(total > 0, `total ${total}`);
    progress.forEach(([current, t], i) => {
        assertEqual(t, total, `call ${i}: total`);
        assert(i === 0 || current >= progress[i - 1][0], `progress went back: ${progress}`);
    });
    assertEqual(progress.at(-1), [total, total], 'final call');
    checkOutput(path, expected('model.pt'));
});

test('import-pytorch-async-key', async () => {
    const path = tmpPath('key.safetensors');
    assertEqual(await importPytorch(torchFile('model.pt'), Gio.File.new_for_path(path),
        ImportFlags.NONE, 'fc.weight', null), true, 'import_pytorch_finish()');
    checkOutput(path, expected('model.pt', 'fc.weight'));
});

test('import-pytorch-async-error', async () => {
    const path = tmpPath('hostile.safetensors');
    let error = null;
    try {
        await importPytorch(torchFile('hostile', 'posix_system_reduce.pt'),
            Gio.File.new_for_path(path), ImportFlags.NONE, null, null);
    } catch (e) {
        error = e;
    }
    assert(error?.matches(E, E.UNSAFE_PICKLE), `rejects with UNSAFE_PICKLE: ${error}`);
    assert(!GLib.file_test(path, GLib.FileTest.EXISTS), 'nothing written');
});

test('hostile', () => {
    const e = assertThrows(() => load('hostile/posix_system_reduce.pt'), E, E.UNSAFE_PICKLE,
        'posix_system_reduce.pt');
    assert(e.message.includes('posix.system'), `message names the global: ${e.message}`);
});

test('missing-key', () => {
    const e = assertThrows(() => load('model.pt', ImportFlags.NONE, 'no.such'), E,
        E.INVALID_ARGUMENT, 'key "no.such"');
    assert(e.message.includes('no.such'), `message names the key: ${e.message}`);
});

test('skipped', () => {
    const entry = expected('train.pt', null, true);
    const imp = load('train.pt', ImportFlags.ALL);
    assertEqual(imp.get_n_tensors(), entry.tensors.length, 'get_n_tensors()');
    const skipped = imp.get_skipped();
    assertEqual(skipped[0], 'epoch', 'first skipped');
    assertEqual(imp.get_skip_reason('epoch'), 'int', 'reason for "epoch"');
    assertEqual(skipped.map(name => [name, imp.get_skip_reason(name)]), entry.skipped,
        'skipped and why');
    assertEqual(imp.get_skip_reason('state_dict.conv.weight'), null, 'reason for a tensor');
});

run();
