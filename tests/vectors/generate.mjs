// Writes tests/vectors/validation.json: the shared request-validation vectors that the native
// (googletest), wasm32-wasi (node) and emscripten (node) builds of core/requests.cc all run
// unchanged. Deterministic: same output on every run. Usage: node tests/vectors/generate.mjs
//
// Each case: {name, kind, body | body_hex | body_repeat, expect: {code, field?, message?}}.
//  - body: the raw input text (UTF-8); body_hex: raw bytes (invalid UTF-8, NUL, ...);
//  - body_repeat: prefix + unit * count + suffix (oversized and deep inputs).
//  - expect.field is present on every failing case; expect.message is present where the
//    catalogue fixes it (never on "not valid JSON" / "nested too deep" cases, whose message
//    carries a parser-specific byte offset or is not part of the contract).
//
// Depth convention: a container's level is the number of arrays/objects enclosing it plus one,
// so the top-level object is level 1; bodies with a container at level 9 or deeper are rejected.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../../scripts/cli.mjs';

parseCli(process.argv.slice(2), {}, { script: import.meta.url });

const MAX_BODY = 65536;
const MAX_SKU = 9007199254740991n; // 2^53 - 1
const BODY_KINDS = new Set(['reservation', 'extend', 'transition', 'set_stock', 'adjustment']);
const KINDS = new Set([...BODY_KINDS, 'sku', 'order_id', 'sku_list']);

// ---- messages (the catalogue) ----
const M = {
  tooLarge: (n) => `body is ${n} bytes; the limit is ${MAX_BODY}`,
  empty: 'body is empty; expected a JSON object',
  notObject: 'body must be a JSON object',
  dup: (k) => `duplicate field "${k}"`,
  unknown: (k) => `unknown field "${k}"`,
  string: (x) => `${x} must be a string`,
  integer: (x) => `${x} must be an integer`,
  boolean: (x) => `${x} must be a boolean`,
  array: (x) => `${x} must be an array`,
  required: (x) => `${x} is required`,
  itemObject: 'item must be an object',
  items: 'items must hold 1 to 100 entries',
  sku: 'sku must be between 1 and 9007199254740991',
  qty: 'qty must be between 1 and 1000000',
  dupSku: (s) => `sku ${s} appears more than once in items`,
  ttl: 'ttl_seconds must be between 1 and 86400',
  id: (x) => `${x} must be 1 to 64 characters of A-Z a-z 0-9 . _ : -`,
  reason: 'reason must be at most 256 bytes',
  onHand: 'on_hand must be between 0 and 2147483647',
  pcl: 'per_customer_limit must be between 0 and 1000000',
  low: 'low_stock_threshold must be between 0 and 2147483647',
  delta: 'delta must be a non-zero integer between -1000000 and 1000000',
  skuParam: 'sku must be an integer between 1 and 9007199254740991',
  skusBad: 'skus must be a comma-separated list of integers between 1 and 9007199254740991',
  skusMany: 'skus may name at most 1000 SKUs',
  skusEmpty: 'skus must name at least one SKU',
  skusDup: (s) => `sku ${s} appears more than once in skus`,
};

// ---- expectations ----
const OK = { code: 'ok' };
const bad = (field, message) =>
  message === undefined ? { code: 'invalid_request', field } : { code: 'invalid_request', field, message };
const BAD_JSON = bad(''); // rule 3: not valid JSON (message has a parser byte offset: left out)
const TOO_DEEP = bad(''); // rule 4: nested deeper than 8 levels (message left out)
const TOO_LARGE = Symbol('payload_too_large'); // message computed from the input's byte length

// ---- inputs ----
const text = (s) => ({ body: s });
const hex = (bytes) => ({ body_hex: Buffer.from(bytes).toString('hex') });
const hexOf = (...parts) => hex(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)))));
const repeat = (prefix, unit, count, suffix) => ({ body_repeat: { prefix, unit, count, suffix } });

function inputBytes(input) {
  if ('body' in input) return Buffer.from(input.body, 'utf8');
  if ('body_hex' in input) return Buffer.from(input.body_hex, 'hex');
  const r = input.body_repeat;
  return Buffer.concat([Buffer.from(r.prefix, 'utf8'), Buffer.from(r.unit.repeat(r.count), 'utf8'), Buffer.from(r.suffix, 'utf8')]);
}
const byteLen = (s) => Buffer.byteLength(s, 'utf8');

// ---- case list ----
const cases = [];
const names = new Set();
function add(name, input, expect) {
  const kind = name.split('/')[0];
  if (!KINDS.has(kind)) throw new Error(`bad kind in ${name}`);
  if (name.split('/').length < 3) throw new Error(`name must be kind/group/what: ${name}`);
  if (names.has(name)) throw new Error(`duplicate case name ${name}`);
  names.add(name);
  if (expect === TOO_LARGE) {
    const n = inputBytes(input).length;
    if (!BODY_KINDS.has(kind) || n <= MAX_BODY) throw new Error(`${name}: not oversized (${n})`);
    expect = { code: 'payload_too_large', field: '', message: M.tooLarge(n) };
  }
  cases.push({ name, kind, ...input, expect });
}

// ---- JSON text builders (raw value text, so 1.0 / -0 / 1e400 stay as written) ----
const q = (s) => JSON.stringify(s);
// An object from [key, rawValue] pairs (duplicate keys possible).
const obj = (...pairs) => '{' + pairs.map(([k, v]) => `${q(k)}:${v}`).join(',') + '}';
// An object from a template merged with overrides; a value of undefined removes the key.
const merge = (base, over = {}) =>
  obj(...Object.entries({ ...base, ...over }).filter(([, v]) => v !== undefined));
const arr = (...els) => '[' + els.join(',') + ']';
const item = (sku = '1', qty = '1') => obj(['sku', sku], ['qty', qty]);

const RES = { order_id: q('o1'), items: arr(item()) };
const res = (over) => merge(RES, over);
const resItems = (...items) => res({ items: arr(...items) });
const EXT = { ttl_seconds: '900' };
const ext = (over) => merge(EXT, over);
const SET = { on_hand: '10' };
const set = (over) => merge(SET, over);
const ADJ = { delta: '5', request_id: q('r1') };
const adj = (over) => merge(ADJ, over);
const tr = (over) => merge({}, over);

// Wrong-typed raw values, per expected type.
const NOT_STRING = { integer: '1', float: '1.5', bool: 'false', null: 'null', array: '["o1"]', object: '{"a":"o1"}' };
const NOT_INTEGER = { string: '"1"', float: '1.0', bool: 'true', null: 'null', array: '[1]', object: '{"v":1}' };
const NOT_BOOLEAN = { string: '"true"', integer: '1', float: '0.0', null: 'null', array: '[true]', object: '{}' };
const NOT_ARRAY = { string: '"[]"', integer: '1', float: '1.5', bool: 'true', null: 'null', object: '{"sku":1,"qty":1}' };
const NOT_OBJECT = { string: '"x"', integer: '1', float: '1.5', bool: 'true', null: 'null', array: '[]' };

const ID64 = 'A'.repeat(20) + 'z'.repeat(20) + '0123456789' + '._:-' + 'x'.repeat(10);
const ID65 = ID64 + 'y';
if (ID64.length !== 64 || ID65.length !== 65) throw new Error('id lengths');

// Bodies padded with whitespace to an exact byte length: prefix + ' ' * n + suffix.
function padded(prefix, suffix, total) {
  const n = total - byteLen(prefix) - byteLen(suffix);
  if (n < 0) throw new Error('padding');
  return repeat(prefix, ' ', n, suffix);
}

// ======================= reservation =======================
{
  const K = 'reservation';
  const maxItems = [];
  for (let i = 0; i < 100; i++) maxItems.push(item(String(MAX_SKU - BigInt(i)), '1000000'));
  const items100 = [];
  for (let i = 1; i <= 100; i++) items100.push(item(String(i), String(i)));
  const items101 = [];
  for (let i = 1; i <= 101; i++) items101.push(item(String(i), '1'));

  // ok
  add(`${K}/ok/minimal`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}]}'), OK);
  add(`${K}/ok/maximal`, text(obj(['order_id', q(ID64)], ['items', arr(...maxItems)], ['ttl_seconds', '86400'],
    ['customer_id', q(ID64)], ['confirm', 'true'])), OK);
  add(`${K}/ok/all_optional_fields_min`, text(res({ ttl_seconds: '1', customer_id: q('c'), confirm: 'false' })), OK);
  add(`${K}/ok/confirm_true`, text(res({ confirm: 'true' })), OK);
  add(`${K}/ok/keys_in_reverse_order`, text(obj(['confirm', 'false'], ['customer_id', q('c-1')], ['ttl_seconds', '900'],
    ['items', arr(obj(['qty', '2'], ['sku', '7']))], ['order_id', q('o1')])), OK);
  add(`${K}/ok/whitespace_everywhere`, text(' \t\r\n{ "order_id" :\t"o1" ,\r\n "items" : [ { "sku" : 1 , "qty" : 1 } ] }\n \t'), OK);
  add(`${K}/ok/two_items`, text(resItems(item('1', '2'), item('2', '1'))), OK);
  add(`${K}/ok/items_100_distinct`, text(res({ items: arr(...items100) })), OK);
  add(`${K}/ok/id_all_punctuation`, text(res({ order_id: q('a.b_c:d-e'), customer_id: q('.:_-') })), OK);
  add(`${K}/ok/escaped_id_char`, text('{"order_id":"\\u0041BC\\u002d1","items":[{"sku":1,"qty":1}]}'), OK);
  add(`${K}/ok/escaped_key_name`, text('{"\\u006frder_id":"o1","it\\u0065ms":[{"\\u0073ku":1,"qty":1}]}'), OK);
  add(`${K}/ok/body_exactly_65536_bytes`, padded('{"order_id":"o1","items":[{"sku":1,"qty":1}]', '}', MAX_BODY), OK);
  add(`${K}/ok/large_sku_and_qty`, text(resItems(item('9007199254740990', '999999'))), OK);

  // bounds
  add(`${K}/bounds/sku_0`, text(resItems(item('0'))), bad('/items/0/sku', M.sku));
  add(`${K}/bounds/sku_1`, text(resItems(item('1'))), OK);
  add(`${K}/bounds/sku_2p53_minus_1`, text(resItems(item('9007199254740991'))), OK);
  add(`${K}/bounds/sku_2p53`, text(resItems(item('9007199254740992'))), bad('/items/0/sku', M.sku));
  add(`${K}/bounds/sku_minus_1`, text(resItems(item('-1'))), bad('/items/0/sku', M.sku));
  add(`${K}/bounds/sku_int64_max`, text(resItems(item('9223372036854775807'))), bad('/items/0/sku', M.sku));
  add(`${K}/bounds/sku_int64_min`, text(resItems(item('-9223372036854775808'))), bad('/items/0/sku', M.sku));
  add(`${K}/bounds/qty_0`, text(resItems(item('1', '0'))), bad('/items/0/qty', M.qty));
  add(`${K}/bounds/qty_1`, text(resItems(item('1', '1'))), OK);
  add(`${K}/bounds/qty_1000000`, text(resItems(item('1', '1000000'))), OK);
  add(`${K}/bounds/qty_1000001`, text(resItems(item('1', '1000001'))), bad('/items/0/qty', M.qty));
  add(`${K}/bounds/qty_minus_1`, text(resItems(item('1', '-1'))), bad('/items/0/qty', M.qty));
  add(`${K}/bounds/qty_2p31`, text(resItems(item('1', '2147483648'))), bad('/items/0/qty', M.qty));
  add(`${K}/bounds/qty_4294967297`, text(resItems(item('1', '4294967297'))), bad('/items/0/qty', M.qty));
  add(`${K}/bounds/ttl_0`, text(res({ ttl_seconds: '0' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_1`, text(res({ ttl_seconds: '1' })), OK);
  add(`${K}/bounds/ttl_86400`, text(res({ ttl_seconds: '86400' })), OK);
  add(`${K}/bounds/ttl_86401`, text(res({ ttl_seconds: '86401' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_minus_1`, text(res({ ttl_seconds: '-1' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/order_id_0_chars`, text(res({ order_id: q('') })), bad('/order_id', M.id('order_id')));
  add(`${K}/bounds/order_id_1_char`, text(res({ order_id: q('x') })), OK);
  add(`${K}/bounds/order_id_64_chars`, text(res({ order_id: q(ID64) })), OK);
  add(`${K}/bounds/order_id_65_chars`, text(res({ order_id: q(ID65) })), bad('/order_id', M.id('order_id')));
  add(`${K}/bounds/customer_id_0_chars`, text(res({ customer_id: q('') })), bad('/customer_id', M.id('customer_id')));
  add(`${K}/bounds/customer_id_1_char`, text(res({ customer_id: q('c') })), OK);
  add(`${K}/bounds/customer_id_64_chars`, text(res({ customer_id: q(ID64) })), OK);
  add(`${K}/bounds/customer_id_65_chars`, text(res({ customer_id: q(ID65) })), bad('/customer_id', M.id('customer_id')));

  // items: count and element shape
  add(`${K}/items/count_0`, text(res({ items: '[]' })), bad('/items', M.items));
  add(`${K}/items/count_1`, text(resItems(item('42', '3'))), OK);
  add(`${K}/items/count_100`, text(res({ items: arr(...items100) })), OK);
  add(`${K}/items/count_101`, text(res({ items: arr(...items101) })), bad('/items', M.items));
  for (const [t, v] of Object.entries(NOT_OBJECT)) {
    add(`${K}/items/element_${t}`, text(res({ items: arr(v) })), bad('/items/0', M.itemObject));
  }
  add(`${K}/items/second_element_not_object`, text(resItems(item(), '7')), bad('/items/1', M.itemObject));
  add(`${K}/items/empty_item_object`, text(resItems('{}')), bad('/items/0/sku', M.required('sku')));
  add(`${K}/items/item_missing_sku`, text(resItems('{"qty":1}')), bad('/items/0/sku', M.required('sku')));
  add(`${K}/items/item_missing_qty`, text(resItems('{"sku":1}')), bad('/items/0/qty', M.required('qty')));
  add(`${K}/items/item_unknown_key`, text(resItems('{"sku":1,"qty":1,"price":10}')), bad('/items/0/price', M.unknown('price')));
  add(`${K}/items/item_unknown_keys_sorted`, text(resItems('{"zeta":1,"sku":1,"alpha":2,"qty":1}')), bad('/items/0/alpha', M.unknown('alpha')));
  add(`${K}/items/item_unknown_before_bad_sku`, text(resItems('{"sku":0,"qty":0,"note":"x"}')), bad('/items/0/note', M.unknown('note')));
  add(`${K}/items/item_key_case_sensitive`, text(resItems('{"SKU":1,"sku":1,"qty":1}')), bad('/items/0/SKU', M.unknown('SKU')));
  add(`${K}/items/sku_checked_before_qty`, text(resItems(item('0', '0'))), bad('/items/0/sku', M.sku));
  add(`${K}/items/second_item_bad_qty`, text(resItems(item('1', '1'), item('2', '0'))), bad('/items/1/qty', M.qty));
  add(`${K}/items/item0_fully_before_item1`, text(resItems(item('1', '0'), item('0', '1'))), bad('/items/0/qty', M.qty));
  add(`${K}/items/item0_unknown_vs_item1_bad_sku`, text(resItems('{"sku":1,"qty":1,"x":1}', item('0'))), bad('/items/0/x', M.unknown('x')));
  {
    const list = items100.slice(0, 99).concat([item('100', '0')]);
    add(`${K}/items/last_of_100_bad_qty`, text(res({ items: arr(...list) })), bad('/items/99/qty', M.qty));
  }
  add(`${K}/items/items_before_ttl`, text(res({ items: arr(item('1', '0')), ttl_seconds: '0' })), bad('/items/0/qty', M.qty));

  // duplicate SKUs (all items otherwise valid)
  add(`${K}/dup_sku/adjacent`, text(resItems(item('5', '1'), item('5', '2'))), bad('/items/1/sku', M.dupSku('5')));
  add(`${K}/dup_sku/later_occurrence`, text(resItems(item('1'), item('2'), item('1'))), bad('/items/2/sku', M.dupSku('1')));
  add(`${K}/dup_sku/first_in_item_order`, text(resItems(item('3'), item('1'), item('3'), item('1'))), bad('/items/2/sku', M.dupSku('3')));
  add(`${K}/dup_sku/max_sku`, text(resItems(item('9007199254740991'), item('9007199254740991'))), bad('/items/1/sku', M.dupSku('9007199254740991')));
  {
    const list = items100.slice(0, 99).concat([item('1', '1')]);
    add(`${K}/dup_sku/last_of_100`, text(res({ items: arr(...list) })), bad('/items/99/sku', M.dupSku('1')));
  }
  add(`${K}/dup_sku/before_ttl`, text(res({ items: arr(item('8'), item('8')), ttl_seconds: '0' })), bad('/items/1/sku', M.dupSku('8')));

  // types
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/order_id_${t}`, text(res({ order_id: v })), bad('/order_id', M.string('order_id')));
  for (const [t, v] of Object.entries(NOT_ARRAY)) add(`${K}/type/items_${t}`, text(res({ items: v })), bad('/items', M.array('items')));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/sku_${t}`, text(resItems(item(v))), bad('/items/0/sku', M.integer('sku')));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/qty_${t}`, text(resItems(item('1', v))), bad('/items/0/qty', M.integer('qty')));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/ttl_seconds_${t}`, text(res({ ttl_seconds: v })), bad('/ttl_seconds', M.integer('ttl_seconds')));
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/customer_id_${t}`, text(res({ customer_id: v })), bad('/customer_id', M.string('customer_id')));
  for (const [t, v] of Object.entries(NOT_BOOLEAN)) add(`${K}/type/confirm_${t}`, text(res({ confirm: v })), bad('/confirm', M.boolean('confirm')));

  // required fields and schema order
  add(`${K}/required/empty_object`, text('{}'), bad('/order_id', M.required('order_id')));
  add(`${K}/required/order_id_missing`, text(res({ order_id: undefined })), bad('/order_id', M.required('order_id')));
  add(`${K}/required/items_missing`, text(res({ items: undefined })), bad('/items', M.required('items')));
  add(`${K}/required/only_optionals`, text('{"ttl_seconds":60,"customer_id":"c","confirm":true}'), bad('/order_id', M.required('order_id')));
  add(`${K}/order/order_id_before_items_regardless_of_text_order`, text('{"items":[],"order_id":""}'), bad('/order_id', M.id('order_id')));
  add(`${K}/order/items_before_ttl`, text('{"ttl_seconds":0,"order_id":"o1","items":"x"}'), bad('/items', M.array('items')));
  add(`${K}/order/ttl_before_customer_id`, text(res({ ttl_seconds: '86401', customer_id: '7' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/order/customer_id_before_confirm`, text(res({ customer_id: q('a b'), confirm: '"yes"' })), bad('/customer_id', M.id('customer_id')));
  add(`${K}/order/missing_items_before_bad_ttl`, text('{"order_id":"o1","ttl_seconds":"x"}'), bad('/items', M.required('items')));

  // unknown keys
  add(`${K}/unknown/single`, text(res({ price: '1' })), bad('/price', M.unknown('price')));
  add(`${K}/unknown/sorted_bytewise`, text(res({ zulu: '1', alpha: '1', mike: '1' })), bad('/alpha', M.unknown('alpha')));
  add(`${K}/unknown/uppercase_sorts_first`, text(res({ alpha: '1', Zed: '1' })), bad('/Zed', M.unknown('Zed')));
  add(`${K}/unknown/prefix_sorts_first`, text(res({ ab: '1', a: '1' })), bad('/a', M.unknown('a')));
  add(`${K}/unknown/case_sensitive_order_id`, text(res({ Order_ID: q('o1') })), bad('/Order_ID', M.unknown('Order_ID')));
  add(`${K}/unknown/before_missing_required`, text('{"sku":1}'), bad('/sku', M.unknown('sku')));
  add(`${K}/unknown/before_bad_order_id`, text('{"order_id":"","items":[],"extra":null}'), bad('/extra', M.unknown('extra')));
  add(`${K}/unknown/top_level_before_item_errors`, text(res({ items: arr(item('0', '0')), memo: '""' })), bad('/memo', M.unknown('memo')));
  add(`${K}/unknown/empty_key`, text(res({ '': '1' })), bad('/', M.unknown('')));
  add(`${K}/unknown/key_with_slash`, text(res({ 'a/b': '1' })), bad('/a~1b', M.unknown('a/b')));
  add(`${K}/unknown/key_with_tilde`, text(res({ 'm~n': '1' })), bad('/m~0n', M.unknown('m~n')));
  add(`${K}/unknown/non_ascii_key`, text(res({ 'ключ': '1' })), bad('/ключ', M.unknown('ключ')));
  add(`${K}/unknown/key_with_quote`, text(res({ 'a"b': '1' })), bad('/a"b'));
  add(`${K}/unknown/nested_value_ignored_shape`, text(res({ x: '{"y":[1,{"z":null}]}' })), bad('/x', M.unknown('x')));

  // duplicate keys
  add(`${K}/dup_key/order_id`, text('{"order_id":"o1","order_id":"o1","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.dup('order_id')));
  add(`${K}/dup_key/items`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}],"items":[{"sku":2,"qty":1}]}'), bad('/items', M.dup('items')));
  add(`${K}/dup_key/item_sku`, text('{"order_id":"o1","items":[{"sku":1,"sku":2,"qty":1}]}'), bad('/items/0/sku', M.dup('sku')));
  add(`${K}/dup_key/second_item_qty`, text('{"order_id":"o1","items":[{"sku":1,"qty":1},{"sku":2,"qty":1,"qty":1}]}'), bad('/items/1/qty', M.dup('qty')));
  add(`${K}/dup_key/wins_over_missing_field`, text('{"items":[{"sku":1,"qty":1}],"items":[]}'), bad('/items', M.dup('items')));
  add(`${K}/dup_key/inside_unknown_value`, text(res({ x: '{"a":1,"a":2}' })), bad('/x/a', M.dup('a')));
  add(`${K}/dup_key/inside_array_in_unknown_value`, text(res({ x: '[0,{"k":1,"k":2}]' })), bad('/x/1/k', M.dup('k')));
  add(`${K}/dup_key/via_escape`, text('{"order_id":"o1","\\u006frder_id":"o2","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.dup('order_id')));
  add(`${K}/dup_key/unknown_key`, text('{"zz":1,"zz":2}'), bad('/zz', M.dup('zz')));
  add(`${K}/dup_key/empty_key`, text('{"":1,"":2}'), bad('/', M.dup('')));
  add(`${K}/dup_key/key_with_slash`, text('{"a/b":1,"a/b":2}'), bad('/a~1b', M.dup('a/b')));
  add(`${K}/dup_key/three_times`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}],"confirm":true,"confirm":true,"confirm":false}'), bad('/confirm', M.dup('confirm')));
  add(`${K}/dup_key/inside_top_level_array`, text('[{"a":1,"a":2}]'), bad('/0/a', M.dup('a')));

  // numbers
  add(`${K}/number/qty_1_0`, text(resItems(item('1', '1.0'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_1e3`, text(resItems(item('1', '1e3'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_1E3`, text(resItems(item('1', '1E3'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_1e0`, text(resItems(item('1', '1e0'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_10e_minus_1`, text(resItems(item('1', '10e-1'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_minus_0`, text(resItems(item('1', '-0'))), bad('/items/0/qty', M.qty));
  add(`${K}/number/qty_minus_0_0`, text(resItems(item('1', '-0.0'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_1e308`, text(resItems(item('1', '1e308'))), bad('/items/0/qty', M.integer('qty')));
  add(`${K}/number/qty_1e_minus_400`, text(resItems(item('1', '1e-400'))), bad('/items/0/qty', M.integer('qty')));
  // 1e400 overflows a double; nlohmann_json rejects it while parsing ("number overflow"), so it is
  // "not valid JSON" (field ""), not a type error.
  add(`${K}/number/qty_1e400`, text(resItems(item('1', '1e400'))), BAD_JSON);
  add(`${K}/number/sku_minus_1e400`, text(resItems(item('-1e400'))), BAD_JSON);
  add(`${K}/number/sku_23_nines`, text(resItems(item('99999999999999999999999'))), bad('/items/0/sku', M.integer('sku')));
  add(`${K}/number/sku_minus_23_nines`, text(resItems(item('-99999999999999999999999'))), bad('/items/0/sku', M.integer('sku')));
  add(`${K}/number/sku_2p64`, text(resItems(item('18446744073709551616'))), bad('/items/0/sku', M.integer('sku')));
  add(`${K}/number/sku_int64_min_minus_1`, text(resItems(item('-9223372036854775809'))), bad('/items/0/sku', M.integer('sku')));
  // 2^63 .. 2^64-1 fit an unsigned 64-bit integer: "must be an integer" or "must be between" are
  // both readings of the rules, so only code and field are fixed (and a wrap to -1 must not pass).
  add(`${K}/number/sku_2p64_minus_1`, text(resItems(item('18446744073709551615'))), bad('/items/0/sku'));
  add(`${K}/number/qty_2p64_minus_1`, text(resItems(item('1', '18446744073709551615'))), bad('/items/0/qty'));
  add(`${K}/number/ttl_2p63`, text(res({ ttl_seconds: '9223372036854775808' })), bad('/ttl_seconds'));
  add(`${K}/number/ttl_1_5`, text(res({ ttl_seconds: '1.5' })), bad('/ttl_seconds', M.integer('ttl_seconds')));
  add(`${K}/number/sku_hex_0x10`, text(resItems(item('0x10'))), BAD_JSON);
  add(`${K}/number/sku_leading_zero`, text(resItems(item('01'))), BAD_JSON);
  add(`${K}/number/qty_plus_sign`, text(resItems(item('1', '+1'))), BAD_JSON);
  add(`${K}/number/qty_leading_dot`, text(resItems(item('1', '.5'))), BAD_JSON);
  add(`${K}/number/qty_trailing_dot`, text(resItems(item('1', '1.'))), BAD_JSON);
  add(`${K}/number/qty_bare_exponent`, text(resItems(item('1', '1e'))), BAD_JSON);
  add(`${K}/number/qty_nan`, text(resItems(item('1', 'NaN'))), BAD_JSON);
  add(`${K}/number/qty_infinity`, text(resItems(item('1', 'Infinity'))), BAD_JSON);
  add(`${K}/number/qty_lone_minus`, text(resItems(item('1', '-'))), BAD_JSON);

  // ids: charset and unicode
  add(`${K}/id/cyrillic_order_id`, text(res({ order_id: q('ордер') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/emoji_order_id`, text(res({ order_id: q('o\u{1F6D2}1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/escaped_emoji_order_id`, text('{"order_id":"\\ud83d\\uded2","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.id('order_id')));
  add(`${K}/id/latin1_letter`, text(res({ order_id: q('caf\u00e9') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/fullwidth_letters`, text(res({ order_id: q('\uff4f\uff11') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/space`, text(res({ order_id: q('o 1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/slash`, text(res({ order_id: q('o/1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/at_sign`, text(res({ order_id: q('o@1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/plus`, text(res({ order_id: q('o+1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/escaped_nul`, text('{"order_id":"o\\u00001","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.id('order_id')));
  add(`${K}/id/escaped_newline`, text('{"order_id":"o1\\n","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.id('order_id')));
  add(`${K}/id/raw_del_char`, text(res({ order_id: q('o\u007f1') })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/escaped_space`, text('{"order_id":"o\\u00201","items":[{"sku":1,"qty":1}]}'), bad('/order_id', M.id('order_id')));
  add(`${K}/id/16_emoji_64_bytes`, text(res({ order_id: q('\u{1F600}'.repeat(16)) })), bad('/order_id', M.id('order_id')));
  add(`${K}/id/cyrillic_customer_id`, text(res({ customer_id: q('клиент') })), bad('/customer_id', M.id('customer_id')));
  add(`${K}/id/escaped_customer_id_valid`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}],"customer_id":"\\u0063\\u003a7"}'), OK);

  // JSON syntax
  add(`${K}/json/unterminated_object`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}]'), BAD_JSON);
  add(`${K}/json/unterminated_string`, text('{"order_id":"o1'), BAD_JSON);
  add(`${K}/json/unterminated_array`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}'), BAD_JSON);
  add(`${K}/json/trailing_comma_object`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}],}'), BAD_JSON);
  add(`${K}/json/trailing_comma_array`, text('{"order_id":"o1","items":[{"sku":1,"qty":1},]}'), BAD_JSON);
  add(`${K}/json/single_quotes`, text("{'order_id':'o1','items':[{'sku':1,'qty':1}]}"), BAD_JSON);
  add(`${K}/json/unquoted_keys`, text('{order_id:"o1",items:[{sku:1,qty:1}]}'), BAD_JSON);
  add(`${K}/json/line_comment`, text('{"order_id":"o1", // c\n"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/block_comment`, text('{"order_id":"o1",/* c */"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/trailing_garbage`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}]}x'), BAD_JSON);
  add(`${K}/json/two_objects`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}]} {}'), BAD_JSON);
  add(`${K}/json/trailing_closing_brace`, text('{"order_id":"o1","items":[{"sku":1,"qty":1}]}}'), BAD_JSON);
  // nlohmann_json's lexer takes a NUL byte for the end of input, so these pass json::parse unless
  // the validator rejects NUL bytes itself; a raw NUL is never valid JSON (rule 3: trailing garbage).
  add(`${K}/json/trailing_nul_byte`, hexOf('{"order_id":"o1","items":[{"sku":1,"qty":1}]}', [0x00]), BAD_JSON);
  add(`${K}/json/nul_then_garbage`, hexOf('{"order_id":"o1","items":[{"sku":1,"qty":1}]}', [0x00], ',"confirm":"x"}'), BAD_JSON);
  add(`${K}/json/nul_between_tokens`, hexOf('{"order_id":"o1",', [0x00], '"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/missing_colon`, text('{"order_id" "o1","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/missing_value`, text('{"order_id":,"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/missing_comma`, text('{"order_id":"o1" "items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/raw_tab_in_string`, text('{"order_id":"o\t1","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/raw_newline_in_string`, text('{"order_id":"o\n1","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/raw_nul_in_string`, hexOf('{"order_id":"o', [0x00], '1","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/invalid_escape_x`, text('{"order_id":"\\x41","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/short_unicode_escape`, text('{"order_id":"\\u41","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/bad_hex_in_escape`, text('{"order_id":"\\u00G1","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/lone_high_surrogate_escape`, text('{"order_id":"\\ud800","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/lone_low_surrogate_escape`, text('{"order_id":"\\udc00","items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/true_misspelled`, text(res({ confirm: 'True' })), BAD_JSON);
  add(`${K}/json/null_truncated`, text(res({ customer_id: 'nul' })), BAD_JSON);
  add(`${K}/json/form_feed_whitespace`, text('{"order_id":"o1",\f"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/json/nbsp_whitespace`, text('{"order_id":"o1",\u00a0"items":[{"sku":1,"qty":1}]}'), BAD_JSON);

  // invalid UTF-8 (raw bytes)
  const pre = '{"order_id":"o';
  const post = '","items":[{"sku":1,"qty":1}]}';
  add(`${K}/utf8/lone_continuation_byte`, hexOf(pre, [0x80], post), BAD_JSON);
  add(`${K}/utf8/overlong_slash`, hexOf(pre, [0xc0, 0xaf], post), BAD_JSON);
  add(`${K}/utf8/overlong_nul`, hexOf(pre, [0xc0, 0x80], post), BAD_JSON);
  add(`${K}/utf8/utf16_surrogate_encoded`, hexOf(pre, [0xed, 0xa0, 0x80], post), BAD_JSON);
  add(`${K}/utf8/above_u10ffff`, hexOf(pre, [0xf4, 0x90, 0x80, 0x80], post), BAD_JSON);
  add(`${K}/utf8/truncated_3_byte_sequence`, hexOf(pre, [0xe2, 0x82], post), BAD_JSON);
  add(`${K}/utf8/byte_ff`, hexOf(pre, [0xff], post), BAD_JSON);
  add(`${K}/utf8/latin1_e9`, hexOf(pre, [0xe9], post), BAD_JSON);
  add(`${K}/utf8/invalid_in_key`, hexOf('{"order_id":"o1","items":[{"sku":1,"qty":1}],"x', [0xfe], '":1}'), BAD_JSON);
  add(`${K}/utf8/invalid_outside_string`, hexOf('{"order_id":"o1",', [0xc3, 0xa9], '"items":[{"sku":1,"qty":1}]}'), BAD_JSON);
  add(`${K}/utf8/valid_multibyte_in_order_id`, hexOf(pre, [0xc3, 0xa9], post), bad('/order_id', M.id('order_id')));

  // nesting depth
  add(`${K}/depth/exactly_8_in_unknown_field`, text(res({ x: '[[[[[[[1]]]]]]]' })), bad('/x', M.unknown('x')));
  add(`${K}/depth/9_in_unknown_field`, text(res({ x: '[[[[[[[[1]]]]]]]]' })), TOO_DEEP);
  add(`${K}/depth/exactly_8_in_sku`, text(resItems(item('[[[[[1]]]]]'))), bad('/items/0/sku', M.integer('sku')));
  add(`${K}/depth/9_in_sku`, text(resItems(item('[[[[[[1]]]]]]'))), TOO_DEEP);
  add(`${K}/depth/exactly_8_objects`, text(res({ x: '{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}' })), bad('/x', M.unknown('x')));
  add(`${K}/depth/9_objects`, text(res({ x: '{"a":{"a":{"a":{"a":{"a":{"a":{"a":{}}}}}}}}' })), TOO_DEEP);
  add(`${K}/depth/9_empty_arrays_top_level`, text('[[[[[[[[[]]]]]]]]]'), TOO_DEEP);
  add(`${K}/depth/8_empty_arrays_top_level`, text('[[[[[[[[]]]]]]]]'), bad('', M.notObject));
  add(`${K}/depth/60000_unclosed_arrays`, repeat('', '[', 60000, ''), bad(''));
  add(`${K}/depth/10000_balanced_objects`, repeat('', '{"a":', 10000, '1' + '}'.repeat(10000)), TOO_DEEP);
  add(`${K}/depth/32768_balanced_arrays_65536_bytes`, repeat('', '[', 32768, ']'.repeat(32768)), TOO_DEEP);
  add(`${K}/depth/100000_arrays_too_large`, repeat('', '[', 100000, ''), TOO_LARGE);

  // empty and whitespace
  add(`${K}/empty/empty_body`, text(''), bad('', M.empty));
  add(`${K}/empty/space`, text(' '), bad('', M.empty));
  add(`${K}/empty/all_json_whitespace`, text(' \t\r\n'), bad('', M.empty));
  add(`${K}/empty/65536_spaces`, repeat('', ' ', 65536, ''), bad('', M.empty));

  // size
  add(`${K}/size/65537_bytes_valid_json`, padded('{"order_id":"o1","items":[{"sku":1,"qty":1}]', '}', MAX_BODY + 1), TOO_LARGE);
  add(`${K}/size/65537_spaces`, repeat('', ' ', 65537, ''), TOO_LARGE);
  add(`${K}/size/1_mib`, padded('{"order_id":"o1","items":[{"sku":1,"qty":1}]', '}', 1048576), TOO_LARGE);
  add(`${K}/size/huge_order_id`, repeat('{"order_id":"', 'a', 70000, '"}'), TOO_LARGE);
  add(`${K}/size/oversized_invalid_json`, repeat('', 'x', 65537, ''), TOO_LARGE);
  add(`${K}/size/oversized_multibyte_bytes_not_chars`, repeat('{"order_id":"o1","items":[{"sku":1,"qty":1}],"x":"', '\u00e9', 32760, '"}'), TOO_LARGE);
  add(`${K}/size/65536_bytes_of_item_list_bad_count`, padded('{"order_id":"o1","items":[]', '}', MAX_BODY), bad('/items', M.items));

  // top level
  add(`${K}/toplevel/array`, text('[]'), bad('', M.notObject));
  add(`${K}/toplevel/array_of_valid_body`, text('[{"order_id":"o1","items":[{"sku":1,"qty":1}]}]'), bad('', M.notObject));
  add(`${K}/toplevel/string`, text('"{}"'), bad('', M.notObject));
  add(`${K}/toplevel/number`, text('1'), bad('', M.notObject));
  add(`${K}/toplevel/null`, text('null'), bad('', M.notObject));
  add(`${K}/toplevel/true`, text('true'), bad('', M.notObject));
  add(`${K}/toplevel/number_with_whitespace`, text(' 42 \n'), bad('', M.notObject));
  // Top-level 1e400: "not valid JSON" (nlohmann) and "not an object" both give field "".
  add(`${K}/toplevel/overflowing_number`, text('1e400'), bad(''));

  // precedence between the whole-body rules
  add(`${K}/precedence/invalid_json_beats_duplicate`, text('{"order_id":"o1","order_id":"o2","items":['), BAD_JSON);
  add(`${K}/precedence/depth_beats_duplicate`, text('{"order_id":"o1","order_id":"o2","x":[[[[[[[[1]]]]]]]]}'), TOO_DEEP);
  add(`${K}/precedence/duplicate_beats_top_level_type`, text('[0,{"k":1,"k":2}]'), bad('/1/k', M.dup('k')));
  add(`${K}/precedence/duplicate_beats_unknown`, text('{"b":1,"a":1,"b":2}'), bad('/b', M.dup('b')));
  add(`${K}/precedence/size_beats_empty`, repeat('', '\n', 65537, ''), TOO_LARGE);
}

// ======================= extend =======================
{
  const K = 'extend';
  add(`${K}/ok/minimal`, text('{"ttl_seconds":900}'), OK);
  add(`${K}/ok/maximal`, text('{"ttl_seconds":86400}'), OK);
  add(`${K}/ok/whitespace`, text('\n { "ttl_seconds" : 60 } \n'), OK);
  add(`${K}/ok/body_exactly_65536_bytes`, padded('{"ttl_seconds":60', '}', MAX_BODY), OK);
  add(`${K}/bounds/ttl_0`, text(ext({ ttl_seconds: '0' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_1`, text(ext({ ttl_seconds: '1' })), OK);
  add(`${K}/bounds/ttl_86400`, text(ext({ ttl_seconds: '86400' })), OK);
  add(`${K}/bounds/ttl_86401`, text(ext({ ttl_seconds: '86401' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_minus_1`, text(ext({ ttl_seconds: '-1' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_minus_0`, text(ext({ ttl_seconds: '-0' })), bad('/ttl_seconds', M.ttl));
  add(`${K}/bounds/ttl_int64_max`, text(ext({ ttl_seconds: '9223372036854775807' })), bad('/ttl_seconds', M.ttl));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/ttl_seconds_${t}`, text(ext({ ttl_seconds: v })), bad('/ttl_seconds', M.integer('ttl_seconds')));
  add(`${K}/type/ttl_seconds_1e3`, text(ext({ ttl_seconds: '1e3' })), bad('/ttl_seconds', M.integer('ttl_seconds')));
  add(`${K}/type/ttl_seconds_23_nines`, text(ext({ ttl_seconds: '99999999999999999999999' })), bad('/ttl_seconds', M.integer('ttl_seconds')));
  add(`${K}/required/empty_object`, text('{}'), bad('/ttl_seconds', M.required('ttl_seconds')));
  add(`${K}/unknown/extra_field`, text('{"ttl_seconds":60,"reason":"x"}'), bad('/reason', M.unknown('reason')));
  add(`${K}/unknown/only_unknown`, text('{"ttl":60}'), bad('/ttl', M.unknown('ttl')));
  add(`${K}/dup_key/ttl_seconds`, text('{"ttl_seconds":60,"ttl_seconds":60}'), bad('/ttl_seconds', M.dup('ttl_seconds')));
  add(`${K}/empty/empty_body`, text(''), bad('', M.empty));
  add(`${K}/empty/whitespace`, text('\r\n\t '), bad('', M.empty));
  add(`${K}/toplevel/number`, text('60'), bad('', M.notObject));
  add(`${K}/toplevel/array`, text('[{"ttl_seconds":60}]'), bad('', M.notObject));
  add(`${K}/json/trailing_garbage`, text('{"ttl_seconds":60}]'), BAD_JSON);
  add(`${K}/json/1e400`, text('{"ttl_seconds":1e400}'), BAD_JSON);
  add(`${K}/json/unterminated`, text('{"ttl_seconds":60'), BAD_JSON);
  add(`${K}/depth/9_in_unknown`, text('{"ttl_seconds":60,"x":[[[[[[[[]]]]]]]]}'), TOO_DEEP);
  add(`${K}/size/65537_bytes`, padded('{"ttl_seconds":60', '}', MAX_BODY + 1), TOO_LARGE);
}

// ======================= transition =======================
{
  const K = 'transition';
  const euro85a = '\u20ac'.repeat(85) + 'a'; // 256 bytes, 86 characters
  const euro86 = '\u20ac'.repeat(86); // 258 bytes, 86 characters
  if (byteLen(euro85a) !== 256 || byteLen(euro86) !== 258) throw new Error('euro');
  add(`${K}/ok/empty_body`, text(''), OK);
  add(`${K}/ok/whitespace_body`, text(' \n\t\r'), OK);
  add(`${K}/ok/empty_object`, text('{}'), OK);
  add(`${K}/ok/empty_object_with_whitespace`, text('  {\n}  '), OK);
  add(`${K}/ok/reason`, text('{"reason":"customer cancelled"}'), OK);
  add(`${K}/ok/reason_empty_string`, text('{"reason":""}'), OK);
  add(`${K}/ok/maximal_reason_256_ascii`, text(tr({ reason: q('r'.repeat(256)) })), OK);
  add(`${K}/ok/reason_256_bytes_multibyte`, text(tr({ reason: q(euro85a) })), OK);
  add(`${K}/ok/reason_64_emoji_256_bytes`, text(tr({ reason: q('\u{1F4E6}'.repeat(64)) })), OK);
  add(`${K}/ok/reason_256_escaped_newlines`, text('{"reason":"' + '\\n'.repeat(256) + '"}'), OK);
  add(`${K}/ok/reason_256_unicode_escapes`, text('{"reason":"' + '\\u0041'.repeat(256) + '"}'), OK);
  add(`${K}/ok/reason_escaped_nul`, text('{"reason":"a\\u0000b"}'), OK);
  add(`${K}/ok/reason_any_unicode`, text(tr({ reason: q('возврат 🙂 — 退款') })), OK);
  add(`${K}/ok/body_exactly_65536_bytes`, padded('{"reason":"x"', '}', MAX_BODY), OK);
  add(`${K}/ok/65536_spaces`, repeat('', ' ', 65536, ''), OK);
  add(`${K}/bounds/reason_257_ascii`, text(tr({ reason: q('r'.repeat(257)) })), bad('/reason', M.reason));
  add(`${K}/bounds/reason_258_bytes_86_chars`, text(tr({ reason: q(euro86) })), bad('/reason', M.reason));
  add(`${K}/bounds/reason_65_emoji_260_bytes`, text(tr({ reason: q('\u{1F4E6}'.repeat(65)) })), bad('/reason', M.reason));
  add(`${K}/bounds/reason_129_escaped_e_acute_258_bytes`, text('{"reason":"' + '\\u00e9'.repeat(129) + '"}'), bad('/reason', M.reason));
  add(`${K}/bounds/reason_257_escaped_newlines`, text('{"reason":"' + '\\n'.repeat(257) + '"}'), bad('/reason', M.reason));
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/reason_${t}`, text(tr({ reason: v })), bad('/reason', M.string('reason')));
  add(`${K}/unknown/only_unknown`, text('{"note":"x"}'), bad('/note', M.unknown('note')));
  add(`${K}/unknown/with_valid_reason`, text('{"reason":"x","comment":"y"}'), bad('/comment', M.unknown('comment')));
  add(`${K}/unknown/before_bad_reason`, text('{"reason":1,"order_id":"o1"}'), bad('/order_id', M.unknown('order_id')));
  add(`${K}/unknown/sorted_bytewise`, text('{"qty":1,"items":[],"confirm":true}'), bad('/confirm', M.unknown('confirm')));
  add(`${K}/dup_key/reason`, text('{"reason":"a","reason":"b"}'), bad('/reason', M.dup('reason')));
  add(`${K}/toplevel/null`, text('null'), bad('', M.notObject));
  add(`${K}/toplevel/empty_json_string`, text('""'), bad('', M.notObject));
  add(`${K}/toplevel/empty_array`, text('[]'), bad('', M.notObject));
  add(`${K}/toplevel/false`, text('false'), bad('', M.notObject));
  add(`${K}/json/unterminated_object`, text('{'), BAD_JSON);
  add(`${K}/json/lone_closing_brace`, text('}'), BAD_JSON);
  add(`${K}/json/trailing_garbage`, text('{}{}'), BAD_JSON);
  add(`${K}/json/garbage_text`, text('release'), BAD_JSON);
  add(`${K}/json/trailing_nul_byte`, hexOf('{}', [0x00]), BAD_JSON);
  add(`${K}/json/whitespace_then_nul`, hexOf('  ', [0x00]), BAD_JSON);
  add(`${K}/utf8/invalid_in_reason`, hexOf('{"reason":"', [0xe2, 0x28, 0xa1], '"}'), BAD_JSON);
  add(`${K}/utf8/raw_nul_in_reason`, hexOf('{"reason":"a', [0x00], 'b"}'), BAD_JSON);
  add(`${K}/utf8/only_nul_byte`, hex([0x00]), BAD_JSON);
  add(`${K}/depth/exactly_8_in_reason`, text('{"reason":[[[[[[["x"]]]]]]]}'), bad('/reason', M.string('reason')));
  add(`${K}/depth/9_in_reason`, text('{"reason":[[[[[[[["x"]]]]]]]]}'), TOO_DEEP);
  add(`${K}/size/65537_bytes`, padded('{"reason":"x"', '}', MAX_BODY + 1), TOO_LARGE);
  add(`${K}/size/65537_spaces`, repeat('', ' ', 65537, ''), TOO_LARGE);
  add(`${K}/size/1_mib_reason`, repeat('{"reason":"', 'r', 1048576 - 13, '"}'), TOO_LARGE);
  add(`${K}/size/multibyte_bytes_not_chars`, repeat('{"reason":"', '\u00e9', 32763, '"}'), TOO_LARGE);
}

// ======================= set_stock =======================
{
  const K = 'set_stock';
  add(`${K}/ok/minimal`, text('{"on_hand":0}'), OK);
  add(`${K}/ok/maximal`, text(obj(['on_hand', '2147483647'], ['per_customer_limit', '1000000'], ['reason', q('s'.repeat(256))])), OK);
  add(`${K}/ok/all_fields`, text('{"on_hand":500,"per_customer_limit":2,"reason":"restock from supplier"}'), OK);
  add(`${K}/ok/per_customer_limit_0_no_limit`, text(set({ per_customer_limit: '0' })), OK);
  add(`${K}/ok/on_hand_minus_0`, text(set({ on_hand: '-0' })), OK);
  add(`${K}/ok/reason_256_bytes_multibyte`, text(set({ reason: q('\u00e9'.repeat(128)) })), OK);
  add(`${K}/ok/body_exactly_65536_bytes`, padded('{"on_hand":10', '}', MAX_BODY), OK);
  add(`${K}/bounds/on_hand_minus_1`, text(set({ on_hand: '-1' })), bad('/on_hand', M.onHand));
  add(`${K}/bounds/on_hand_0`, text(set({ on_hand: '0' })), OK);
  add(`${K}/bounds/on_hand_2147483647`, text(set({ on_hand: '2147483647' })), OK);
  add(`${K}/bounds/on_hand_2147483648`, text(set({ on_hand: '2147483648' })), bad('/on_hand', M.onHand));
  add(`${K}/bounds/on_hand_4294967296`, text(set({ on_hand: '4294967296' })), bad('/on_hand', M.onHand));
  add(`${K}/bounds/on_hand_int64_max`, text(set({ on_hand: '9223372036854775807' })), bad('/on_hand', M.onHand));
  add(`${K}/bounds/on_hand_int64_min`, text(set({ on_hand: '-9223372036854775808' })), bad('/on_hand', M.onHand));
  add(`${K}/bounds/on_hand_2p64_minus_1`, text(set({ on_hand: '18446744073709551615' })), bad('/on_hand'));
  add(`${K}/bounds/per_customer_limit_minus_1`, text(set({ per_customer_limit: '-1' })), bad('/per_customer_limit', M.pcl));
  add(`${K}/bounds/per_customer_limit_0`, text(set({ per_customer_limit: '0' })), OK);
  add(`${K}/bounds/per_customer_limit_1000000`, text(set({ per_customer_limit: '1000000' })), OK);
  add(`${K}/bounds/per_customer_limit_1000001`, text(set({ per_customer_limit: '1000001' })), bad('/per_customer_limit', M.pcl));
  add(`${K}/bounds/low_stock_threshold_minus_1`, text(set({ low_stock_threshold: '-1' })), bad('/low_stock_threshold', M.low));
  add(`${K}/bounds/low_stock_threshold_0`, text(set({ low_stock_threshold: '0' })), OK);
  add(`${K}/bounds/low_stock_threshold_2147483647`, text(set({ low_stock_threshold: '2147483647' })), OK);
  add(`${K}/bounds/low_stock_threshold_2147483648`, text(set({ low_stock_threshold: '2147483648' })), bad('/low_stock_threshold', M.low));
  add(`${K}/bounds/reason_256_ascii`, text(set({ reason: q('s'.repeat(256)) })), OK);
  add(`${K}/bounds/reason_257_ascii`, text(set({ reason: q('s'.repeat(257)) })), bad('/reason', M.reason));
  add(`${K}/bounds/reason_129_e_acute_258_bytes`, text(set({ reason: q('\u00e9'.repeat(129)) })), bad('/reason', M.reason));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/on_hand_${t}`, text(set({ on_hand: v })), bad('/on_hand', M.integer('on_hand')));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/per_customer_limit_${t}`, text(set({ per_customer_limit: v })), bad('/per_customer_limit', M.integer('per_customer_limit')));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/low_stock_threshold_${t}`, text(set({ low_stock_threshold: v })), bad('/low_stock_threshold', M.integer('low_stock_threshold')));
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/reason_${t}`, text(set({ reason: v })), bad('/reason', M.string('reason')));
  add(`${K}/type/on_hand_1e3`, text(set({ on_hand: '1e3' })), bad('/on_hand', M.integer('on_hand')));
  add(`${K}/type/on_hand_23_nines`, text(set({ on_hand: '99999999999999999999999' })), bad('/on_hand', M.integer('on_hand')));
  add(`${K}/type/on_hand_0_0`, text(set({ on_hand: '0.0' })), bad('/on_hand', M.integer('on_hand')));
  add(`${K}/required/empty_object`, text('{}'), bad('/on_hand', M.required('on_hand')));
  add(`${K}/required/only_optionals`, text('{"per_customer_limit":1,"reason":"x"}'), bad('/on_hand', M.required('on_hand')));
  add(`${K}/order/on_hand_first`, text('{"reason":1,"per_customer_limit":-1,"on_hand":-1}'), bad('/on_hand', M.onHand));
  add(`${K}/order/per_customer_limit_before_reason`, text('{"reason":1,"per_customer_limit":-1,"on_hand":1}'), bad('/per_customer_limit', M.pcl));
  add(`${K}/unknown/sku_in_body`, text('{"sku":1,"on_hand":1}'), bad('/sku', M.unknown('sku')));
  add(`${K}/unknown/reserved`, text('{"on_hand":1,"reserved":0}'), bad('/reserved', M.unknown('reserved')));
  add(`${K}/unknown/sorted_bytewise`, text('{"version":3,"on_hand":1,"available":1}'), bad('/available', M.unknown('available')));
  add(`${K}/dup_key/on_hand`, text('{"on_hand":1,"on_hand":2}'), bad('/on_hand', M.dup('on_hand')));
  add(`${K}/dup_key/per_customer_limit`, text('{"on_hand":1,"per_customer_limit":1,"per_customer_limit":1}'), bad('/per_customer_limit', M.dup('per_customer_limit')));
  add(`${K}/empty/empty_body`, text(''), bad('', M.empty));
  add(`${K}/empty/whitespace`, text('   '), bad('', M.empty));
  add(`${K}/toplevel/number`, text('10'), bad('', M.notObject));
  add(`${K}/toplevel/string`, text('"10"'), bad('', M.notObject));
  add(`${K}/json/1e400`, text('{"on_hand":1e400}'), BAD_JSON);
  add(`${K}/json/hex_number`, text('{"on_hand":0x10}'), BAD_JSON);
  add(`${K}/json/trailing_comma`, text('{"on_hand":1,}'), BAD_JSON);
  add(`${K}/utf8/invalid_in_reason`, hexOf('{"on_hand":1,"reason":"', [0xf0, 0x28, 0x8c, 0xbc], '"}'), BAD_JSON);
  add(`${K}/depth/9_in_reason`, text('{"on_hand":1,"reason":[[[[[[[[0]]]]]]]]}'), TOO_DEEP);
  add(`${K}/depth/exactly_8_in_reason`, text('{"on_hand":1,"reason":[[[[[[[0]]]]]]]}'), bad('/reason', M.string('reason')));
  add(`${K}/size/65537_bytes`, padded('{"on_hand":10', '}', MAX_BODY + 1), TOO_LARGE);
  add(`${K}/size/1_mib`, padded('{"on_hand":10', '}', 1048576), TOO_LARGE);
}

// ======================= adjustment =======================
{
  const K = 'adjustment';
  add(`${K}/ok/minimal`, text('{"delta":1,"request_id":"r"}'), OK);
  add(`${K}/ok/maximal`, text(obj(['delta', '1000000'], ['request_id', q(ID64)], ['reason', q('w'.repeat(256))])), OK);
  add(`${K}/ok/write_off`, text('{"delta":-3,"request_id":"adj-2024-01:0001","reason":"damaged"}'), OK);
  add(`${K}/ok/body_exactly_65536_bytes`, padded('{"delta":5,"request_id":"r1"', '}', MAX_BODY), OK);
  add(`${K}/ok/escaped_request_id`, text('{"delta":5,"request_id":"\\u0052\\u0031"}'), OK);
  add(`${K}/bounds/delta_minus_1000001`, text(adj({ delta: '-1000001' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_minus_1000000`, text(adj({ delta: '-1000000' })), OK);
  add(`${K}/bounds/delta_minus_1`, text(adj({ delta: '-1' })), OK);
  add(`${K}/bounds/delta_0`, text(adj({ delta: '0' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_minus_0`, text(adj({ delta: '-0' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_1`, text(adj({ delta: '1' })), OK);
  add(`${K}/bounds/delta_1000000`, text(adj({ delta: '1000000' })), OK);
  add(`${K}/bounds/delta_1000001`, text(adj({ delta: '1000001' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_int64_max`, text(adj({ delta: '9223372036854775807' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_int64_min`, text(adj({ delta: '-9223372036854775808' })), bad('/delta', M.delta));
  add(`${K}/bounds/delta_2p64_minus_1`, text(adj({ delta: '18446744073709551615' })), bad('/delta'));
  add(`${K}/bounds/delta_2p64_minus_1000`, text(adj({ delta: '18446744073709550616' })), bad('/delta'));
  add(`${K}/bounds/request_id_0_chars`, text(adj({ request_id: q('') })), bad('/request_id', M.id('request_id')));
  add(`${K}/bounds/request_id_1_char`, text(adj({ request_id: q('r') })), OK);
  add(`${K}/bounds/request_id_64_chars`, text(adj({ request_id: q(ID64) })), OK);
  add(`${K}/bounds/request_id_65_chars`, text(adj({ request_id: q(ID65) })), bad('/request_id', M.id('request_id')));
  add(`${K}/bounds/reason_256_ascii`, text(adj({ reason: q('w'.repeat(256)) })), OK);
  add(`${K}/bounds/reason_257_ascii`, text(adj({ reason: q('w'.repeat(257)) })), bad('/reason', M.reason));
  add(`${K}/bounds/reason_256_bytes_multibyte`, text(adj({ reason: q('\u4e2d'.repeat(85) + 'x') })), OK);
  add(`${K}/bounds/reason_258_bytes_86_chars`, text(adj({ reason: q('\u4e2d'.repeat(86)) })), bad('/reason', M.reason));
  for (const [t, v] of Object.entries(NOT_INTEGER)) add(`${K}/type/delta_${t}`, text(adj({ delta: v })), bad('/delta', M.integer('delta')));
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/request_id_${t}`, text(adj({ request_id: v })), bad('/request_id', M.string('request_id')));
  for (const [t, v] of Object.entries(NOT_STRING)) add(`${K}/type/reason_${t}`, text(adj({ reason: v })), bad('/reason', M.string('reason')));
  add(`${K}/type/delta_minus_1e3`, text(adj({ delta: '-1e3' })), bad('/delta', M.integer('delta')));
  add(`${K}/type/delta_minus_23_nines`, text(adj({ delta: '-99999999999999999999999' })), bad('/delta', M.integer('delta')));
  add(`${K}/required/empty_object`, text('{}'), bad('/delta', M.required('delta')));
  add(`${K}/required/request_id_missing`, text('{"delta":5}'), bad('/request_id', M.required('request_id')));
  add(`${K}/required/delta_missing`, text('{"request_id":"r1"}'), bad('/delta', M.required('delta')));
  add(`${K}/order/delta_before_request_id`, text('{"request_id":"","delta":0}'), bad('/delta', M.delta));
  add(`${K}/order/request_id_before_reason`, text('{"reason":7,"request_id":"r 1","delta":1}'), bad('/request_id', M.id('request_id')));
  add(`${K}/id/cyrillic_request_id`, text(adj({ request_id: q('запрос') })), bad('/request_id', M.id('request_id')));
  add(`${K}/id/emoji_request_id`, text(adj({ request_id: q('\u{1F4E6}') })), bad('/request_id', M.id('request_id')));
  add(`${K}/id/hash_in_request_id`, text(adj({ request_id: q('r#1') })), bad('/request_id', M.id('request_id')));
  add(`${K}/unknown/sku_in_body`, text('{"delta":1,"request_id":"r","sku":1}'), bad('/sku', M.unknown('sku')));
  add(`${K}/unknown/max_adjustment`, text('{"delta":1,"request_id":"r","max_adjustment":5}'), bad('/max_adjustment', M.unknown('max_adjustment')));
  add(`${K}/dup_key/delta`, text('{"delta":1,"delta":-1,"request_id":"r"}'), bad('/delta', M.dup('delta')));
  add(`${K}/dup_key/request_id`, text('{"delta":1,"request_id":"r","request_id":"r"}'), bad('/request_id', M.dup('request_id')));
  add(`${K}/empty/empty_body`, text(''), bad('', M.empty));
  add(`${K}/empty/newlines`, text('\n\n'), bad('', M.empty));
  add(`${K}/toplevel/array`, text('[1,"r"]'), bad('', M.notObject));
  add(`${K}/toplevel/null`, text('null'), bad('', M.notObject));
  add(`${K}/json/1e400`, text('{"delta":-1e400,"request_id":"r"}'), BAD_JSON);
  add(`${K}/json/plus_sign`, text('{"delta":+5,"request_id":"r"}'), BAD_JSON);
  add(`${K}/json/trailing_garbage`, text('{"delta":5,"request_id":"r"};'), BAD_JSON);
  add(`${K}/utf8/invalid_in_request_id`, hexOf('{"delta":5,"request_id":"r', [0xc3, 0x28], '"}'), BAD_JSON);
  add(`${K}/depth/9_in_unknown`, text('{"delta":5,"request_id":"r","x":{"a":[{"b":[{"c":[[[]]]}]}]}}'), TOO_DEEP);
  add(`${K}/depth/exactly_8_in_unknown`, text('{"delta":5,"request_id":"r","x":{"a":[{"b":[{"c":[[]]}]}]}}'), bad('/x', M.unknown('x')));
  add(`${K}/size/65537_bytes`, padded('{"delta":5,"request_id":"r1"', '}', MAX_BODY + 1), TOO_LARGE);
}

// ======================= sku (path parameter) =======================
{
  const K = 'sku';
  const BAD = bad('sku', M.skuParam);
  add(`${K}/ok/one`, text('1'), OK);
  add(`${K}/ok/typical`, text('123456'), OK);
  add(`${K}/ok/max_2p53_minus_1`, text('9007199254740991'), OK);
  add(`${K}/ok/leading_zeros`, text('007'), OK);
  add(`${K}/ok/16_digits_leading_zeros`, text('0000000000000001'), OK);
  add(`${K}/ok/16_digits_below_max`, text('9007199254740990'), OK);
  add(`${K}/bounds/zero`, text('0'), BAD);
  add(`${K}/bounds/zeros`, text('0000'), BAD);
  add(`${K}/bounds/16_zeros`, text('0000000000000000'), BAD);
  add(`${K}/bounds/2p53`, text('9007199254740992'), BAD);
  add(`${K}/bounds/16_nines`, text('9999999999999999'), BAD);
  add(`${K}/bounds/17_digits_value_1`, text('00000000000000001'), BAD);
  add(`${K}/bounds/17_digits`, text('12345678901234567'), BAD);
  add(`${K}/bounds/20_digits_overflow_u64`, text('18446744073709551617'), BAD);
  add(`${K}/bad/empty`, text(''), BAD);
  add(`${K}/bad/leading_space`, text(' 1'), BAD);
  add(`${K}/bad/trailing_space`, text('1 '), BAD);
  add(`${K}/bad/inner_space`, text('1 2'), BAD);
  add(`${K}/bad/plus_sign`, text('+1'), BAD);
  add(`${K}/bad/minus_sign`, text('-1'), BAD);
  add(`${K}/bad/minus_zero`, text('-0'), BAD);
  add(`${K}/bad/hex`, text('0x10'), BAD);
  add(`${K}/bad/hex_digits`, text('ff'), BAD);
  add(`${K}/bad/exponent`, text('1e3'), BAD);
  add(`${K}/bad/decimal`, text('1.0'), BAD);
  add(`${K}/bad/comma_list`, text('1,2'), BAD);
  add(`${K}/bad/letters`, text('abc'), BAD);
  add(`${K}/bad/trailing_letter`, text('12a'), BAD);
  add(`${K}/bad/fullwidth_digit`, text('\uff11'), BAD);
  add(`${K}/bad/arabic_indic_digit`, text('\u0661'), BAD);
  add(`${K}/bad/percent_encoded`, text('%31'), BAD);
  add(`${K}/bad/trailing_newline`, text('1\n'), BAD);
  add(`${K}/bad/trailing_nul`, hexOf('1', [0x00]), BAD);
  add(`${K}/bad/invalid_utf8`, hex([0x31, 0xff]), BAD);
  add(`${K}/bad/70001_digits`, repeat('', '0', 70000, '1'), BAD);
  add(`${K}/bad/json_quoted`, text('"1"'), BAD);
}

// ======================= order_id (path parameter) =======================
{
  const K = 'order_id';
  const BAD = bad('order_id', M.id('order_id'));
  add(`${K}/ok/typical`, text('o-2024-0001'), OK);
  add(`${K}/ok/one_char`, text('a'), OK);
  add(`${K}/ok/64_chars`, text(ID64), OK);
  add(`${K}/ok/all_punctuation`, text('a.b_c:d-e'), OK);
  add(`${K}/ok/dots_only`, text('..'), OK);
  add(`${K}/ok/dash_only`, text('-'), OK);
  add(`${K}/ok/digits_only`, text('0123456789'), OK);
  add(`${K}/bounds/empty`, text(''), BAD);
  add(`${K}/bounds/65_chars`, text(ID65), BAD);
  add(`${K}/bad/cyrillic`, text('ордер'), BAD);
  add(`${K}/bad/emoji`, text('\u{1F6D2}'), BAD);
  add(`${K}/bad/space`, text('a b'), BAD);
  add(`${K}/bad/slash`, text('a/b'), BAD);
  add(`${K}/bad/percent_encoded_space`, text('a%20b'), BAD);
  add(`${K}/bad/plus`, text('a+b'), BAD);
  add(`${K}/bad/at_sign`, text('a@b'), BAD);
  add(`${K}/bad/tab`, text('a\tb'), BAD);
  add(`${K}/bad/backslash_escape_text`, text('\\u0041'), BAD);
  add(`${K}/bad/json_quoted`, text('"o1"'), BAD);
  add(`${K}/bad/nul_byte`, hexOf('o', [0x00], '1'), BAD);
  add(`${K}/bad/invalid_utf8`, hexOf('o', [0xc0, 0xaf]), BAD);
  add(`${K}/bad/100000_chars`, repeat('', 'a', 100000, ''), BAD);
  add(`${K}/bad/64_bytes_multibyte`, text('\u00e9'.repeat(32)), BAD);
}

// ======================= sku_list (query parameter) =======================
{
  const K = 'sku_list';
  const BAD = bad('skus', M.skusBad);
  const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));
  add(`${K}/ok/one`, text('1'), OK);
  add(`${K}/ok/three`, text('1,2,3'), OK);
  add(`${K}/ok/max_sku`, text('9007199254740991'), OK);
  add(`${K}/ok/leading_zeros`, text('01,002,0000000000000003'), OK);
  add(`${K}/ok/unsorted`, text('30,1,20'), OK);
  add(`${K}/ok/1000_entries`, text(range(1, 1000).join(',')), OK);
  add(`${K}/ok/1000_max_entries`, text(range(0, 999).map((i) => String(MAX_SKU - BigInt(i))).join(',')), OK);
  add(`${K}/bounds/empty`, text(''), bad('skus', M.skusEmpty));
  add(`${K}/bounds/1001_entries`, text(range(1, 1001).join(',')), bad('skus', M.skusMany));
  add(`${K}/bounds/zero`, text('0'), BAD);
  add(`${K}/bounds/zero_in_list`, text('1,0,2'), BAD);
  add(`${K}/bounds/2p53`, text('1,9007199254740992'), BAD);
  add(`${K}/bounds/17_digits`, text('00000000000000001'), BAD);
  add(`${K}/bad/only_comma`, text(','), BAD);
  add(`${K}/bad/trailing_comma`, text('1,2,'), BAD);
  add(`${K}/bad/leading_comma`, text(',1'), BAD);
  add(`${K}/bad/double_comma`, text('1,,2'), BAD);
  add(`${K}/bad/space_after_comma`, text('1, 2'), BAD);
  add(`${K}/bad/leading_space`, text(' 1'), BAD);
  add(`${K}/bad/trailing_space`, text('1 '), BAD);
  add(`${K}/bad/only_space`, text(' '), BAD);
  add(`${K}/bad/plus_sign`, text('+1'), BAD);
  add(`${K}/bad/minus_sign`, text('1,-2'), BAD);
  add(`${K}/bad/semicolon`, text('1;2'), BAD);
  add(`${K}/bad/decimal`, text('1.5'), BAD);
  add(`${K}/bad/hex`, text('0x1'), BAD);
  add(`${K}/bad/letters`, text('a,b'), BAD);
  add(`${K}/bad/percent_encoded_comma`, text('1%2C2'), BAD);
  add(`${K}/bad/json_array`, text('[1,2]'), BAD);
  add(`${K}/bad/trailing_nul`, hexOf('1,2', [0x00]), BAD);
  add(`${K}/bad/70001_digit_element`, repeat('', '0', 70000, '1'), BAD);
  add(`${K}/dup/adjacent`, text('1,1'), bad('skus', M.skusDup('1')));
  add(`${K}/dup/later`, text('1,2,1'), bad('skus', M.skusDup('1')));
  add(`${K}/dup/leading_zero_same_value`, text('1,01'), bad('skus', M.skusDup('1')));
  add(`${K}/dup/first_in_list_order`, text('3,1,3,1'), bad('skus', M.skusDup('3')));
  add(`${K}/dup/in_1000_entries`, text(range(1, 999).concat(['500']).join(',')), bad('skus', M.skusDup('500')));
  add(`${K}/dup/max_sku`, text('9007199254740991,9007199254740991'), bad('skus', M.skusDup('9007199254740991')));
}

// ---- self-checks and output ----
{
  for (const c of cases) {
    const sources = ['body', 'body_hex', 'body_repeat'].filter((k) => k in c);
    if (sources.length !== 1) throw new Error(`${c.name}: exactly one input source`);
    if ('body_hex' in c && !/^(?:[0-9a-f]{2})*$/.test(c.body_hex)) throw new Error(`${c.name}: hex`);
    if (c.expect.code !== 'ok' && !('field' in c.expect)) throw new Error(`${c.name}: field`);
    if ('body' in c && Buffer.from(c.body, 'utf8').toString('utf8') !== c.body) throw new Error(`${c.name}: body not UTF-8 text`);
  }
  const failing = cases.filter((c) => c.expect.code !== 'ok');
  const withMessage = failing.filter((c) => 'message' in c.expect);
  if (cases.length < 220 || withMessage.length < 40) throw new Error('coverage');
}

// JSON with one case per line; non-ASCII escaped as \uXXXX so the file is pure ASCII.
const ascii = (s) => s.replace(/[\u007f-\uffff]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
const out = '{\n  "version": 1,\n  "cases": [\n' +
  cases.map((c) => '    ' + ascii(JSON.stringify(c))).join(',\n') +
  '\n  ]\n}\n';
const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'validation.json'), out);

const perKind = {};
for (const c of cases) perKind[c.kind] = (perKind[c.kind] ?? 0) + 1;
const failing = cases.filter((c) => c.expect.code !== 'ok').length;
const messages = cases.filter((c) => 'message' in c.expect && c.expect.code !== 'ok').length;
console.log(`wrote ${cases.length} cases (${failing} failing, ${messages} with message):`,
  Object.entries(perKind).map(([k, n]) => `${k}=${n}`).join(' '));
