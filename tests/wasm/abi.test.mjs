// The wasm ABI itself, through the JS wrapper, in both builds: imports, admission behaviour,
// bounded memory, and bad arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VerdictNames, WASI_IMPORTS } from '../../wasm/js/stockgate_core.mjs';
import { loadFlavors, wasiModulePath } from './load.mjs';

const flavors = await loadFlavors();
const body = (sku, qty, order = 'o1') =>
  JSON.stringify({ order_id: order, items: [{ sku, qty }] });

test('core.wasm imports only the documented WASI calls', () => {
  const module = new WebAssembly.Module(readFileSync(wasiModulePath()));
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
  assert.deepEqual(imports, WASI_IMPORTS.map((n) => `wasi_snapshot_preview1.${n}`).sort());
});

for (const [flavor, core] of Object.entries(flavors)) {
  test(`${flavor}: ABI version and code table`, () => {
    assert.equal(core.abiVersion, 3);
    assert.equal(core.codeName(6), 'insufficient_stock');
    assert.equal(core.httpStatus(6), 409);
    assert.equal(core.httpStatus(12), 429);
    assert.equal(core.codeName(99), 'unknown');
    assert.equal(core.maxBodyBytes, 65536);
  });

  test(`${flavor}: a sale through the gate: admit, budget, sold out, restock`, () => {
    const gate = core.newGate({ clientRate: 0, admitMultiple: 2, windowMs: 250, maxHintAgeMs: 1000 });
    const t = 10_000_000;
    assert.equal(gate.admitReservation('c', body(1, 1), t).verdict, 'admitted');
    gate.setAvailable(1, 2, t);
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push(gate.admitReservation('c', body(1, 1), t + 50).verdict);
    assert.deepEqual(verdicts, ['admitted', 'admitted', 'admitted', 'admitted', 'rate_limited', 'rate_limited']);
    const limited = gate.admitReservation('c', body(1, 1), t + 50);
    assert.equal(limited.status, 429);
    assert.equal(limited.retryAfterMs, 200);
    assert.equal(JSON.parse(limited.body).error.retry_after_ms, 200);
    gate.setAvailable(1, 0, t + 250);
    const soldOut = gate.admitReservation('c', body(1, 1), t + 260);
    assert.equal(soldOut.verdict, 'sold_out');
    assert.equal(soldOut.status, 409);
    assert.deepEqual(JSON.parse(soldOut.body), {
      error: {
        code: 'insufficient_stock',
        message: 'not enough stock for 1 item(s)',
        fail_items: [{ sku: 1, requested: 1, available: 0 }],
      },
    });
    gate.setAvailable(1, 5, t + 500);
    assert.equal(gate.admitReservation('c', body(1, 1), t + 500).verdict, 'admitted');
    gate.free();
  });

  test(`${flavor}: confirmed hints stay fresh while deltas come; windows open by themselves`, () => {
    const gate = core.newGate({ clientRate: 0, admitMultiple: 2, windowMs: 250, maxHintAgeMs: 1000 });
    const t = 20_000_000;
    gate.setAvailable(1, 0, t - 5000); // a hint from before the feed started over
    gate.setAvailable(2, 0, t);
    gate.setAvailable(3, 1, t);
    for (let at = t; at <= t + 3000; at += 250) gate.confirmHints(at, t);
    assert.equal(gate.admitReservation('c', body(2, 1), t + 3000).verdict, 'sold_out');
    assert.equal(gate.admitReservation('c', body(1, 1), t + 3000).verdict, 'admitted');
    // SKU 3 has one unit: two admissions per window, window after window, unhanded.
    const window = (at) => [0, 1, 2].map(() => gate.admitReservation('c', body(3, 1), at).verdict);
    assert.deepEqual(window(t + 3000), ['admitted', 'admitted', 'rate_limited']);
    assert.deepEqual(window(t + 3250), ['admitted', 'admitted', 'rate_limited']);
    gate.free();
    // The SKU table's evictions are counted (its least capacity is one reservation's items).
    const small = core.newGate({ clientRate: 0, skuCapacity: 100 });
    for (let sku = 1; sku <= 150; sku++) small.setAvailable(sku, 0, t);
    assert.equal(small.stats().skuEntries, 100);
    assert.equal(small.stats().skuEvictions, 50);
    small.free();
  });

  test(`${flavor}: the verdict-only calls and last*() read the same decision`, () => {
    const gate = core.newGate({ clientRate: 10, clientBurst: 1, maxHintAgeMs: 1000 });
    gate.setAvailable(1, 0, 1000);
    const full = gate.admitReservation('c', body(1, 2), 1000);
    const verdict = gate.admitReservationVerdict('d', body(1, 2), 1000);
    assert.equal(VerdictNames[verdict], full.verdict);
    assert.equal(gate.lastCode(), full.code);
    assert.equal(gate.lastBody(), full.body);
    assert.equal(new TextDecoder().decode(gate.lastBodyBytes()), full.body);
    assert.equal(VerdictNames[gate.admitClientVerdict('c', 1000)], 'rate_limited');
    assert.equal(gate.lastRetryAfterMs(), 100);
    assert.equal(JSON.parse(gate.lastBody()).error.retry_after_ms, 100);
    gate.free();
  });

  test(`${flavor}: the body serial changes exactly when the body does, so lastBody() stays right`, () => {
    const gate = core.newGate({ clientRate: 0, maxHintAgeMs: 1000 });
    gate.setAvailable(1, 0, 1000);
    gate.setAvailable(2, 0, 1000);
    const serial = () => core._f.result_body_serial();
    const text = (bytes) => new TextDecoder().decode(bytes);
    gate.admitReservationVerdict('c', body(1, 1), 1000);
    const first = serial();
    const soldOut1 = gate.lastBody();
    const soldOut1Bytes = gate.lastBodyBytes();
    assert.equal(text(soldOut1Bytes), soldOut1);
    gate.admitReservationVerdict('d', body(1, 1, 'o2'), 1000);
    assert.equal(serial(), first, 'the same body text keeps its serial');
    assert.equal(gate.lastBody(), soldOut1);
    assert.equal(gate.lastBodyBytes(), soldOut1Bytes, 'the same bytes are handed out again');
    gate.admitReservationVerdict('c', body(2, 3), 1000);
    assert.notEqual(serial(), first);
    assert.deepEqual(JSON.parse(gate.lastBody()).error.fail_items, [{ sku: 2, requested: 3, available: 0 }]);
    assert.equal(text(gate.lastBodyBytes()), gate.lastBody());
    assert.equal(text(soldOut1Bytes), soldOut1, 'bytes handed out before are never written to');
    // A body read by another path in between still moves the serial along.
    gate.admitReservationVerdict('c', body(1, 1), 1000);
    core._f.result_body_len();
    assert.equal(gate.lastBody(), soldOut1);
    gate.admitReservationVerdict('c', '{"order_id":"x","items":[]}', 1000);
    assert.equal(JSON.parse(gate.lastBody()).error.field, '/items');
    gate.admitReservationVerdict('c', body(1, 1), 1000);
    assert.equal(gate.lastBody(), soldOut1);
    assert.equal(text(gate.lastBodyBytes()), soldOut1);
    gate.setAvailable(1, 5, 1000);
    assert.equal(gate.admitReservationVerdict('c', body(1, 1), 1000), 0);
    assert.equal(gate.lastBody(), '');
    assert.equal(gate.lastBodyBytes().length, 0);
    gate.free();
  });

  test(`${flavor}: client keys and bodies of any text reach the gate as UTF-8`, () => {
    const gate = core.newGate({ clientRate: 10, clientBurst: 1 });
    // Keys that differ only past the hand-copied ASCII prefix, or only in non-ASCII characters,
    // are different clients; the same key in either spelling path is one client.
    for (const key of ['a'.repeat(64), 'a'.repeat(65), 'ключ', 'key-é', 'k'.repeat(63) + 'é']) {
      assert.equal(VerdictNames[gate.admitClientVerdict(key, 1000)], 'admitted', key);
      assert.equal(VerdictNames[gate.admitClientVerdict(key, 1000)], 'rate_limited', key);
    }
    // A body with text outside ASCII parses (and fails on the field) the same as text or bytes.
    const utf8 = JSON.stringify({ order_id: 'o1', items: [{ sku: 1, qty: 1 }], customer_id: 'é' });
    for (const [i, b] of [utf8, new TextEncoder().encode(utf8)].entries()) {
      const d = gate.admitReservation(`ключ-${i}`, b, 1000);
      assert.equal(d.verdict, 'invalid');
      assert.equal(JSON.parse(d.body).error.field, '/customer_id');
    }
    gate.free();
  });

  test(`${flavor}: invalid bodies are answered with the validator's error body`, () => {
    const gate = core.newGate({ clientRate: 0 });
    const d = gate.admitReservation('c', '{"order_id":"x","items":[]}', 1);
    assert.equal(d.verdict, 'invalid');
    assert.equal(d.status, 400);
    assert.deepEqual(JSON.parse(d.body), {
      error: { code: 'invalid_request', field: '/items', message: 'items must hold 1 to 100 entries' },
    });
    const big = gate.admitReservation('c', 'x'.repeat(70_000), 1);
    assert.equal(big.status, 413);
    assert.equal(gate.admitReservation('c', body(1, 1), 1).body, '');
    gate.free();
  });

  test(`${flavor}: one client's burst is limited, another client is not`, () => {
    const gate = core.newGate({ clientRate: 10, clientBurst: 3 });
    for (let i = 0; i < 3; i++) assert.equal(gate.admitClient('greedy', 1000).verdict, 'admitted');
    const d = gate.admitClient('greedy', 1000);
    assert.equal(d.verdict, 'rate_limited');
    assert.equal(d.retryAfterMs, 100);
    assert.equal(gate.admitClient('polite', 1000).verdict, 'admitted');
    assert.equal(gate.admitClient('greedy', 1100).verdict, 'admitted');
    gate.free();
  });

  test(`${flavor}: a million distinct client ids leave memory and the table at their bound`, () => {
    const gate = core.newGate({ clientRate: 1, clientBurst: 1, clientCapacity: 20_000 });
    for (let i = 0; i < 1000; i++) gate.admitClient(`warm-${i}`, 1);
    const before = core.memoryBytes();
    for (let i = 0; i < 1_000_000; i++) gate.admitClient(`bot-${i}`, 1);
    assert.equal(core.memoryBytes(), before);
    const s = gate.stats();
    assert.equal(s.clientEntries, 20_000);
    assert.equal(s.clientEvictions, 1_001_000 - 20_000);
    gate.free();
  });

  test(`${flavor}: bad arguments are refused, not undefined behaviour`, () => {
    assert.throws(() => core.validate('nope', '{}'), TypeError);
    assert.throws(() => core.validate(42, '{}'), RangeError);
    assert.throws(() => core.newGate({ clientCapacity: 0 }), RangeError);
    assert.throws(() => core.newGate({ windowMs: 0 }), RangeError);
    const gate = core.newGate();
    assert.throws(() => gate.setAvailable(0, 1, 1), RangeError);
    assert.throws(() => gate.setAvailable(2 ** 53, 1, 1), RangeError);
    assert.throws(() => gate.setAvailable(1, -1, 1), RangeError);
    assert.throws(() => gate.setAvailable(1, NaN, 1), RangeError);
    assert.throws(() => gate.confirmHints(1, 2), RangeError, 'since after now');
    assert.throws(() => gate.confirmHints(NaN, 1), RangeError);
    assert.throws(() => gate.confirmHints(1, NaN), RangeError);
    gate.confirmHints(2, 1);
    gate.free();
    assert.throws(() => gate.confirmHints(2, 1), RangeError, 'a freed gate');
    assert.throws(() => gate.admitClient('c', 1), RangeError);
    // Unicode client ids and bodies cross the boundary intact.
    const g2 = core.newGate({ clientRate: 1, clientBurst: 1 });
    assert.equal(g2.admitClient('клиент-😀', 1).verdict, 'admitted');
    assert.equal(g2.admitClient('клиент-😀', 1).verdict, 'rate_limited');
    assert.equal(g2.admitClient('клиент-😁', 1).verdict, 'admitted');
    g2.free();
  });

  test(`${flavor}: at most 16 gates live at once, and freed handles are reused`, () => {
    const gates = [];
    for (let i = 0; i < 16; i++) gates.push(core.newGate({ clientCapacity: 10, skuCapacity: 10 }));
    assert.throws(() => core.newGate(), RangeError);
    gates.pop().free();
    gates.push(core.newGate({ clientCapacity: 10, skuCapacity: 10 }));
    for (const g of gates) g.free();
  });
}
