// The API contract files: origin/openapi.json is a sound OpenAPI 3.0.3 document listing exactly the
// routes the C++ Api serves, with the core's bounds and error codes; docs/api.md matches it; and
// the checker behind scripts/check-api-docs notices drift. Run: node --test tests/api_docs.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DOCS_PATH,
  REPO_ROOT,
  SPEC_PATH,
  checkDocs,
  checkSpec,
  operations,
  parseSpec,
  renderDocs,
  resolvePointer,
  specRoutes,
} from '../scripts/check-api-docs.mjs';

const specText = readFileSync(SPEC_PATH, 'utf8');
const docsText = readFileSync(DOCS_PATH, 'utf8');
const { spec } = parseSpec(specText);
const schemas = spec?.components?.schemas ?? {};
// The operations of the spec; stockgate_api_test (RouteTableTest) holds them equal to the routing
// table of origin/server/api.cc, with the same roles and rate-limit groups.
const ROUTES = specRoutes(spec);
const clone = () => JSON.parse(specText);

// `inline constexpr T kName = expr;` of a core header, evaluated for the few expression forms the
// headers use; an unknown form fails the test rather than being guessed. `only` limits it to some
// names, for headers that also hold forms it cannot evaluate.
function coreConstants(file, only = null) {
  const text = readFileSync(resolve(REPO_ROOT, file), 'utf8');
  const out = {};
  for (const [, name, raw] of text.matchAll(/inline constexpr [\w:]+ (k\w+) = ([^;]+);/g)) {
    if (only && !only.includes(name)) continue;
    const expr = raw.replace(/'/g, '').trim();
    let m;
    if (/^\d+$/.test(expr)) out[name] = Number(expr);
    else if ((m = /^(\d+) \* (\d+)$/.exec(expr))) out[name] = Number(m[1]) * Number(m[2]);
    else if ((m = /^\(std::int64_t\{1\} << (\d+)\) - 1$/.exec(expr))) out[name] = 2 ** Number(m[1]) - 1;
    else if (/^k\w+$/.test(expr) && expr in out) out[name] = out[expr];
    else throw new Error(`${file}: cannot evaluate ${name} = ${expr}; teach coreConstants`);
  }
  return out;
}

test('openapi.json is valid JSON, OpenAPI 3.0.3, and every $ref resolves', () => {
  const parsed = parseSpec(specText);
  assert.deepEqual(parsed.problems, []);
  assert.equal(parsed.spec.openapi, '3.0.3');
  assert.deepEqual(checkSpec(parsed.spec), []);
});

test('the parts of docs/api.md written from the spec are up to date', () => {
  assert.deepEqual(checkDocs(spec, docsText), []);
});

test('every operation has its own section in docs/api.md, holding its generated parts', () => {
  const sections = docsText.split(/^### /m).slice(1);
  const headed = new Map();
  for (const section of sections) {
    const m = /^`(GET|PUT|POST|DELETE) (\S+?)(\?\S*)?`/.exec(section);
    if (m) headed.set(`${m[1]} ${m[2]}`, section);
  }
  assert.deepEqual([...headed.keys()].sort(), ROUTES);
  for (const [route, section] of headed) {
    assert.ok(section.includes(`openapi.json: role ${route} -->`), `role of ${route}`);
    assert.ok(section.includes(`openapi.json: answers ${route} -->`), `answers of ${route}`);
  }
});

test('the error codes and statuses are those of core/status.cc', () => {
  const text = readFileSync(resolve(REPO_ROOT, 'core/status.cc'), 'utf8');
  const rows = [...text.matchAll(/\{"([a-z_]+)", (\d{3})\}/g)].filter(([, name]) => name !== 'ok');
  const table = Object.fromEntries(rows.map(([, name, status]) => [name, Number(status)]));
  assert.ok(Object.keys(table).length >= 13, 'could not read the code table of core/status.cc');
  assert.deepEqual([...schemas.ErrorCode.enum].sort(), Object.keys(table).sort());
  assert.deepEqual(schemas.ErrorCode['x-stockgate-status'], table);
});

test('the spec bounds are the constants of core/requests.h', () => {
  const k = coreConstants('core/requests.h');
  const props = (name) => schemas[name].properties;
  assert.equal(schemas.SkuValue.minimum, 1);
  assert.equal(schemas.SkuValue.maximum, k.kMaxSku);
  assert.equal(schemas.Quantity.minimum, 1);
  assert.equal(schemas.Quantity.maximum, k.kMaxQty);
  assert.equal(props('ReservationRequest').items.minItems, 1);
  assert.equal(props('ReservationRequest').items.maxItems, k.kMaxItems);
  assert.equal(schemas.Id.maxLength, k.kMaxIdLength);
  assert.equal(schemas.Id.pattern, `^[A-Za-z0-9._:-]{1,${k.kMaxIdLength}}$`);
  assert.equal(props('ReservationRequest').ttl_seconds.maximum, k.kMaxTtlSeconds);
  assert.equal(props('ReservationRequest').ttl_seconds.default, k.kDefaultTtlSeconds);
  assert.equal(props('ExtendRequest').ttl_seconds.maximum, k.kMaxTtlSeconds);
  assert.equal(props('SetStockRequest').on_hand.maximum, k.kMaxOnHand);
  assert.equal(props('SetStockRequest').per_customer_limit.maximum, k.kMaxPerCustomerLimit);
  assert.equal(props('AdjustmentRequest').delta.maximum, k.kDefaultMaxAdjustment);
  assert.equal(props('AdjustmentRequest').delta.minimum, -k.kDefaultMaxAdjustment);
  assert.equal(schemas.Reason.maxLength, k.kMaxReasonBytes);
  assert.equal(spec.components.parameters.Skus.schema.maxItems, k.kMaxSkusPerRead);
  // The history routes' bounds: page sizes from the reader interface, the rest from api.h.
  const h = coreConstants('origin/history/history_reader.h', ['kDefaultPageSize', 'kMaxPageSize']);
  const a = coreConstants('origin/server/api.h');
  const params = spec.components.parameters;
  assert.equal(params.PageSize.schema.maximum, h.kMaxPageSize);
  assert.equal(params.PageSize.schema.default, h.kDefaultPageSize);
  assert.equal(params.Page.schema.maximum, a.kMaxHistoryPage);
  assert.equal(params.SummarySkus.schema.maxItems, k.kMaxSkusPerRead);
  // A snapshot cursor has a part per partition, at most the store's kMaxPartitions.
  const { kMaxPartitions } = coreConstants('origin/store/keyspace.h', ['kMaxPartitions']);
  assert.equal(params.Since.schema.pattern,
    `^[0-9]{1,19}(\\.[0-9]{1,19}){0,${kMaxPartitions - 1}}$`);
  assert.equal(schemas.Snapshot.properties.cursor.pattern, params.Since.schema.pattern);
  assert.equal(schemas.HistoryPage.properties.items.maxItems, h.kMaxPageSize);
  assert.equal(a.kMaxQueryTimeMs, Date.parse('9999-12-31T23:59:59.999Z'));
  const tooLarge = spec.components.responses.PayloadTooLarge.description;
  assert.match(tooLarge, new RegExp(`\\b${k.kMaxBodyBytes}\\b`));
  // Every request body refuses unknown fields, as the core's parsers do.
  const bodies = ['ReservationRequest', 'ExtendRequest', 'TransitionRequest', 'SetStockRequest'];
  for (const name of [...bodies, 'AdjustmentRequest', 'Item']) {
    assert.equal(schemas[name].additionalProperties, false, name);
  }
});

test('the id pattern accepts and refuses what core IsValidId does', () => {
  const id = new RegExp(schemas.Id.pattern);
  for (const ok of ['a', 'ord-1', 'A.b_c:d-9', 'x'.repeat(64)]) assert.ok(id.test(ok), ok);
  for (const bad of ['', 'x'.repeat(65), 'o x', 'o/x', 'ö', 'a+b']) assert.ok(!id.test(bad), bad);
});

// The roles and groups themselves are held to the routing table by stockgate_api_test; here the
// rest of each operation must agree with its role.
test('security and answers follow each operation\'s role', () => {
  for (const { method, path, op } of operations(spec)) {
    const r = `${method} ${path}`;
    const role = op['x-stockgate-role'];
    const checksTokens = op['x-stockgate-rate-limit'] !== 'none' && !['GET /openapi.json', 'GET /docs'].includes(r);
    if (role === 'public') {
      // A public route that verifies a token when one is sent answers 401 for a bad one, never
      // 403; the operational routes check no token at all.
      assert.ok(!op.responses['403'], r);
      assert.equal(Boolean(op.responses['401']), checksTokens, r);
      if (!checksTokens) assert.deepEqual(op.security, [], r);
    } else {
      assert.ok(op.responses['401'] && op.responses['403'], r);
    }
  }
  // 413 is listed where a body is expected; the description says that any method's body is
  // limited.
  const answering = (status) =>
    operations(spec)
      .filter((o) => o.op.responses[status])
      .map((o) => `${o.method} ${o.path}`)
      .sort();
  assert.deepEqual(answering('413'), ROUTES.filter((r) => !r.startsWith('GET ')).sort());
  // 201 only where the API creates something.
  assert.deepEqual(answering('201'), ['POST /v1/reservations', 'PUT /v1/stock/{sku}']);
});

test('the 405 and 429 answers have the shape api.cc gives them', () => {
  const r405 = spec.components.responses.MethodNotAllowed;
  assert.deepEqual(r405['x-stockgate-codes'], ['invalid_request']);
  assert.ok(r405.headers.Allow);
  const r429 = spec.components.responses.RateLimited;
  assert.ok(r429.headers['Retry-After']);
  assert.equal(r429.content['application/json'].example.error.code, 'rate_limited');
  assert.ok(Number.isInteger(r429.content['application/json'].example.error.retry_after_ms));
  const error = '#/components/schemas/Error/properties/error/properties';
  assert.ok(resolvePointer(spec, `${error}/retry_after_ms`));
  assert.ok(resolvePointer(spec, `${error}/fail_items`));
  assert.ok(resolvePointer(spec, `${error}/field`));
});

// The checker must fail on drift, or the passing tests above prove nothing.
// True when one of the problems contains `text`.
const reports = (problems, text) => problems.some((p) => p.includes(text));

test('the checker reports drift between the two files', () => {
  const marker = '<!-- generated from origin/openapi.json: role GET /readyz -->';
  const withoutPart = docsText.replace(marker, 'Readiness');
  assert.notEqual(withoutPart, docsText);
  assert.ok(reports(checkDocs(spec, withoutPart), 'has no generated part "role GET /readyz"'));

  const extraPart = docsText.replace(marker,
    '<!-- generated from origin/openapi.json: role GET /v1/export -->\n<!-- end of generated part -->\n' + marker);
  assert.ok(reports(checkDocs(spec, extraPart), '"role GET /v1/export" is not a part of the spec'));

  const handEdited = docsText.replace('| 410 | `reservation_expired` |', '| 410 | `invalid_state` |');
  assert.notEqual(handEdited, docsText);
  assert.ok(reports(checkDocs(spec, handEdited), 'out of date with the spec'));

  const newOp = clone();
  const stock = newOp.paths['/v1/stock/{sku}'];
  stock.delete = { ...stock.put, operationId: 'deleteStock' };
  assert.ok(reports(checkDocs(newOp, docsText), 'has no generated part "role DELETE /v1/stock/{sku}"'));

  const wrongCode = clone();
  wrongCode.components.schemas.ErrorCode['x-stockgate-status'].invalid_state = 422;
  assert.ok(reports(checkDocs(wrongCode, docsText), 'out of date with the spec'));

  // --write's rendering of a stale page is the page as it should be.
  assert.deepEqual(renderDocs(spec, handEdited), { markdown: docsText, problems: [] });
});

// Redocly's linter (npm @redocly/cli, rules in redocly.yaml), run on the spec and on broken copies
// of it so that a pass means something.
function redoclyLint(document) {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-lint-'));
  try {
    const path = join(dir, 'openapi.json');
    writeFileSync(path, JSON.stringify(document));
    return spawnSync(join(REPO_ROOT, 'node_modules/.bin/redocly'),
      ['lint', '--config', join(REPO_ROOT, 'redocly.yaml'), '--format', 'stylish', path], {
        encoding: 'utf8',
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('redocly lint passes the spec and fails broken ones', () => {
  const ok = redoclyLint(spec);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);

  const noResponses = clone();
  delete noResponses.paths['/healthz'].get.responses;
  const dangling = clone();
  dangling.paths['/healthz'].get.responses['200'] = { $ref: '#/components/responses/Nothing' };
  const undeclaredParam = clone();
  undeclaredParam.paths['/v1/stock/{sku}/frozen'] = { get: { ...undeclaredParam.paths['/healthz'].get, operationId: 'frozen' } };
  for (const [what, broken] of [['no responses', noResponses], ['dangling $ref', dangling],
    ['undeclared path parameter', undeclaredParam]]) {
    const r = redoclyLint(broken);
    assert.notEqual(r.status, 0, `${what}: ${r.stdout}`);
  }
});

test('the checker reports a broken spec', () => {
  assert.ok(parseSpec('{"openapi": "3.0.3",').problems.length > 0);

  const version = clone();
  version.openapi = '3.1.0';
  assert.ok(reports(checkSpec(version), 'expected "3.0.3"'));

  const dangling = clone();
  const ok = dangling.paths['/v1/stock'].get.responses['200'];
  ok.content['application/json'].schema.$ref = '#/components/schemas/Nope';
  assert.ok(reports(checkSpec(dangling), '#/components/schemas/Nope does not resolve'));

  const noRetryAfter = clone();
  delete noRetryAfter.components.responses.Unavailable.headers;
  assert.ok(reports(checkSpec(noRetryAfter), 'Retry-After header is missing'));

  const publicWrite = clone();
  publicWrite.paths['/v1/reservations'].post.security = [{}];
  assert.ok(reports(checkSpec(publicWrite), 'must require bearerAuth'));

  const wrongStatus = clone();
  const confirm = wrongStatus.paths['/v1/reservations/{order_id}/confirm'].post;
  confirm.responses['409']['x-stockgate-codes'] = ['reservation_expired'];
  assert.ok(reports(checkSpec(wrongStatus), 'reservation_expired is a 410 code'));

  const missingRow = clone();
  const answers = missingRow.paths['/v1/stock/{sku}'].put['x-stockgate-answers'];
  answers.splice(answers.findIndex((a) => a.status === '409'), 1);
  assert.ok(reports(checkSpec(missingRow), 'x-stockgate-answers has no row for 409'));

  const wrongRowCode = clone();
  wrongRowCode.paths['/v1/stock/{sku}'].put['x-stockgate-answers']
    .find((a) => a.status === '409').code = 'insufficient_stock';
  assert.ok(reports(checkSpec(wrongRowCode), 'x-stockgate-answers: 409 has codes [insufficient_stock]'));

  const noWhen = clone();
  delete noWhen.components.schemas.ErrorCode['x-stockgate-when'].forbidden;
  assert.ok(reports(checkSpec(noWhen), 'ErrorCode forbidden has no x-stockgate-when'));
});

test('scripts/check-api-docs exits 0 on the repository and 1 on drift', () => {
  const script = resolve(REPO_ROOT, 'scripts/check-api-docs');
  const ok = spawnSync(script, [], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(19 operations\)/);

  const dir = mkdtempSync(join(tmpdir(), 'api-docs-'));
  try {
    const docs = join(dir, 'api.md');
    const stale = docsText.replace('| 410 | `reservation_expired` |', '| 410 | `invalid_state` |');
    writeFileSync(docs, stale);
    const drift = spawnSync(script, [SPEC_PATH, docs], { encoding: 'utf8' });
    assert.equal(drift.status, 1);
    assert.match(drift.stderr, /out of date with the spec; run scripts\/check-api-docs --write/);
    const write = spawnSync(script, ['--write', SPEC_PATH, docs], { encoding: 'utf8' });
    assert.equal(write.status, 0, write.stderr);
    assert.equal(readFileSync(docs, 'utf8'), docsText);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
