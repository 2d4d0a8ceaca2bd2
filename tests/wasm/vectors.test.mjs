// The shared validation vectors against the wasi and emscripten builds, and each build's results
// against the native transcript: all three must agree on every code, field and message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFlavors, readJson, readJsonLines } from './load.mjs';

const vectors = readJson('STOCKGATE_VECTORS');
const native = readJsonLines('STOCKGATE_NATIVE_TRANSCRIPT');
const flavors = await loadFlavors();

function input(c) {
  if ('body' in c) return c.body;
  if ('body_hex' in c) return Uint8Array.from(Buffer.from(c.body_hex, 'hex'));
  const r = c.body_repeat;
  return r.prefix + r.unit.repeat(r.count) + r.suffix;
}

test('the vector file is substantial and the native transcript covers it', () => {
  assert.ok(vectors.cases.length >= 200, `only ${vectors.cases.length} vectors`);
  assert.deepEqual(
    native.map((r) => r.name),
    vectors.cases.map((c) => c.name),
  );
});

for (const [flavor, core] of Object.entries(flavors)) {
  test(`${flavor}: every vector gives its expected code, field and message`, () => {
    for (const c of vectors.cases) {
      const r = core.validate(c.kind, input(c));
      assert.equal(r.name, c.expect.code, `${c.name}: ${r.message}`);
      if ('field' in c.expect) assert.equal(r.field, c.expect.field, c.name);
      if ('message' in c.expect) assert.equal(r.message, c.expect.message, c.name);
    }
  });

  test(`${flavor}: results are identical to the native build's, case by case`, () => {
    vectors.cases.forEach((c, i) => {
      const r = core.validate(c.kind, input(c));
      assert.deepEqual(
        { name: c.name, code: r.name, field: r.field, message: r.message },
        native[i],
        c.name,
      );
    });
  });
}
