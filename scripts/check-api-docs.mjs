// Checks that origin/openapi.json is a sound OpenAPI 3.0.3 document, and writes the parts of
// docs/api.md that the spec already says: each endpoint's role line and table of answers, and the
// error code table. They sit between <!-- generated ... --> markers; the prose around them is the
// page's own. Used by scripts/check-api-docs (command line) and tests/api_docs.test.mjs. Every
// check returns a list of problems (strings); an empty list means no drift.
//
//   scripts/check-api-docs [--write] [SPEC [DOCS]]   (defaults origin/openapi.json, docs/api.md)
//   --write rewrites the generated parts of DOCS instead of failing when they are out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { parseCli } from './cli.mjs';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SPEC_PATH = resolve(REPO_ROOT, 'origin/openapi.json');
export const DOCS_PATH = resolve(REPO_ROOT, 'docs/api.md');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const ROLES = new Set(['admin', 'service', 'buyer', 'viewer', 'public']);
const RATE_GROUPS = new Set(['reservations', 'reads', 'admin', 'none']);

// Parses the spec text; problems instead of an exception for text that is not JSON.
export function parseSpec(text) {
  try {
    return { spec: JSON.parse(text), problems: [] };
  } catch (e) {
    return { spec: null, problems: [`openapi.json is not valid JSON: ${e.message}`] };
  }
}

// The value a local reference ("#/components/schemas/Stock") points at, or undefined.
export function resolvePointer(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  if (ref === '#') return doc;
  if (!ref.startsWith('#/')) return undefined;
  let node = doc;
  for (const raw of ref.slice(2).split('/')) {
    const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, token)) return undefined;
    node = node[token];
  }
  return node;
}

// Follows $ref chains; returns the target object (or the object itself when it is no reference).
function deref(doc, node) {
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) return undefined;
    seen.add(node.$ref);
    node = resolvePointer(doc, node.$ref);
  }
  return node;
}

// Every "$ref" anywhere in the document, with the JSON path where it sits.
function collectRefs(node, path = '#', out = []) {
  if (Array.isArray(node)) {
    node.forEach((v, i) => collectRefs(v, `${path}/${i}`, out));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') out.push({ at: path, ref: v });
      else collectRefs(v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
    }
  }
  return out;
}

// [{method: 'GET', path: '/v1/stock/{sku}', op, pathItem}] in document order.
export function operations(spec) {
  const out = [];
  for (const [path, item] of Object.entries(spec?.paths ?? {})) {
    for (const method of METHODS) {
      if (item && typeof item === 'object' && item[method]) {
        out.push({ method: method.toUpperCase(), path, op: item[method], pathItem: item });
      }
    }
  }
  return out;
}

// "METHOD /path" of every operation, sorted.
export function specRoutes(spec) {
  return operations(spec)
    .map((o) => `${o.method} ${o.path}`)
    .sort();
}

function errorCodeTable(spec) {
  const codes = spec?.components?.schemas?.ErrorCode;
  return {
    names: new Set(codes?.enum ?? []),
    status: codes?.['x-stockgate-status'] ?? {},
  };
}

// Structural checks of the spec on its own.
export function checkSpec(spec) {
  const problems = [];
  if (!spec || typeof spec !== 'object') return ['openapi.json does not hold a JSON object'];
  if (spec.openapi !== '3.0.3') {
    problems.push(`openapi is ${JSON.stringify(spec.openapi)}, expected "3.0.3"`);
  }
  if (!spec.info?.title || !spec.info?.version) {
    problems.push('info.title and info.version are required');
  }
  if (!spec.paths || typeof spec.paths !== 'object') problems.push('paths is missing');

  for (const { at, ref } of collectRefs(spec)) {
    if (resolvePointer(spec, ref) === undefined) problems.push(`${at}: $ref ${ref} does not resolve`);
  }

  const codes = errorCodeTable(spec);
  if (codes.names.size === 0) problems.push('components.schemas.ErrorCode.enum is missing');
  for (const name of codes.names) {
    if (!Number.isInteger(codes.status[name])) {
      problems.push(`ErrorCode ${name} has no x-stockgate-status`);
    }
  }
  const schemes = spec.components?.securitySchemes ?? {};
  const operationIds = new Set();

  for (const { method, path, op, pathItem } of operations(spec)) {
    const fail = (message) => problems.push(`${method} ${path}: ${message}`);
    if (!op.operationId) fail('operationId is missing');
    else if (operationIds.has(op.operationId)) fail(`operationId ${op.operationId} is used twice`);
    operationIds.add(op.operationId);

    const role = op['x-stockgate-role'];
    if (!ROLES.has(role)) {
      fail(`x-stockgate-role ${JSON.stringify(role)} is not one of ${[...ROLES].join(' | ')}`);
    }
    if (!RATE_GROUPS.has(op['x-stockgate-rate-limit'])) {
      fail(`x-stockgate-rate-limit must be one of ${[...RATE_GROUPS].join(' | ')}`);
    }
    if (!Array.isArray(op.security)) {
      fail('security must be stated on the operation');
    } else {
      for (const req of op.security) {
        for (const name of Object.keys(req)) {
          if (!schemes[name]) fail(`security scheme ${name} is not defined`);
        }
      }
      const anonymous =
        op.security.length === 0 || op.security.some((r) => Object.keys(r).length === 0);
      if (role === 'public' && !anonymous) fail('a public operation must allow calls without a token');
      if (role !== 'public' && anonymous) fail(`a ${role} operation must require bearerAuth`);
      if (role !== 'public' && !op.responses?.['401']) fail('a protected operation must list 401');
      if (role !== 'public' && !op.responses?.['403']) {
        fail(`a ${role} operation must list 403`);
      }
    }

    // Every {name} in the path template is declared as a path parameter, and nothing else is.
    const params = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])];
    const declared = new Set(
      params.map((p) => deref(spec, p)).filter((p) => p?.in === 'path').map((p) => p.name),
    );
    const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    for (const name of templated) {
      if (!declared.has(name)) fail(`path parameter ${name} is not declared`);
    }
    for (const name of declared) {
      if (!templated.has(name)) fail(`path parameter ${name} is not in the path`);
    }

    const responses = op.responses ?? {};
    if (Object.keys(responses).length === 0) fail('no responses');
    for (const [status, raw] of Object.entries(responses)) {
      if (!/^[1-5]\d\d$/.test(status)) {
        fail(`response key ${status} is not an HTTP status`);
        continue;
      }
      const response = deref(spec, raw);
      if (!response) continue;  // reported as an unresolved $ref
      if (!response.description) fail(`${status}: description is missing`);
      const n = Number(status);
      if (n < 400) continue;
      const listed = response['x-stockgate-codes'];
      if (!Array.isArray(listed) || listed.length === 0) {
        fail(`${status}: x-stockgate-codes must list the error codes`);
      } else {
        for (const code of listed) {
          if (!codes.names.has(code)) fail(`${status}: ${code} is not an ErrorCode`);
          // 405 is the one status the API gives without a code of its own (invalid_request).
          else if (codes.status[code] !== n && !(n === 405 && code === 'invalid_request')) {
            fail(`${status}: ${code} is a ${codes.status[code]} code`);
          }
        }
      }
      const schema = response.content?.['application/json']?.schema;
      if (schema?.$ref !== '#/components/schemas/Error') {
        fail(`${status}: the body must be the Error schema`);
      }
      if ((n === 429 || n === 503) && !response.headers?.['Retry-After']) {
        fail(`${status}: Retry-After header is missing`);
      }
      if (n === 405 && !response.headers?.Allow) fail('405: Allow header is missing');
    }

    // x-stockgate-answers, the rows of the docs' table: one per status and error code.
    const answers = op['x-stockgate-answers'];
    if (!Array.isArray(answers) || answers.length === 0) {
      fail('x-stockgate-answers must list the answers');
      continue;
    }
    const rows = new Map();  // status -> codes named in the rows
    for (const a of answers) {
      if (!a?.when) fail(`x-stockgate-answers: ${a?.status} ${a?.code}: "when" is missing`);
      const codes = rows.get(a?.status) ?? new Set();
      if (a?.code) codes.add(a.code);
      rows.set(a?.status, codes);
    }
    for (const status of Object.keys(responses)) {
      if (!rows.has(status)) fail(`x-stockgate-answers has no row for ${status}`);
    }
    for (const [status, codes] of rows) {
      if (!responses[status]) {
        fail(`x-stockgate-answers: ${status} is not a response`);
        continue;
      }
      const listed = new Set(deref(spec, responses[status])?.['x-stockgate-codes'] ?? []);
      if (!sameSet(listed, codes)) {
        fail(`x-stockgate-answers: ${status} has codes [${[...codes].join(', ')}], the ` +
          `response [${[...listed].join(', ')}]`);
      }
    }
  }
  const when = spec.components?.schemas?.ErrorCode?.['x-stockgate-when'] ?? {};
  for (const name of codes.names) {
    if (!when[name]) problems.push(`ErrorCode ${name} has no x-stockgate-when`);
  }
  return problems;
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

// The role line of an endpoint's section.
function roleLine(op) {
  const who = {
    admin: '`admin`',
    service: '`service` (and `admin`)',
    buyer: '`buyer` for its own, or `service` (and `admin`) for any customer',
    viewer: '`viewer` (service and admin tokens qualify too, buyer tokens do not)',
    public: '`public`',
  }[op['x-stockgate-role']];
  const parts = [`**Role:** ${who}`];
  if (op['x-stockgate-role-when-reads-private']) {
    parts.push(`\`${op['x-stockgate-role-when-reads-private']}\` (or higher) when the origin runs ` +
      'with `public_stock_reads = false`');
  }
  const group = op['x-stockgate-rate-limit'];
  parts.push(group === 'none' ? 'not rate-limited' : `rate-limit group \`${group}\``);
  return parts.join(' · ');
}

function answersTable(op) {
  const rows = op['x-stockgate-answers'].map(
    (a) => `| ${a.status} | ${a.code ? `\`${a.code}\`` : ''} | ${a.when} |`);
  return ['| status | code | when |', '|---|---|---|', ...rows].join('\n');
}

function errorCodeRows(spec) {
  const { names, status } = errorCodeTable(spec);
  const when = spec.components.schemas.ErrorCode['x-stockgate-when'] ?? {};
  const rows = [...names].map((name) => `| \`${name}\` | ${status[name]} | ${when[name]} |`);
  return ['| code | status | when |', '|---|---|---|', ...rows].join('\n');
}

// Every generated part of docs/api.md by its key: "role POST /v1/reservations",
// "answers POST /v1/reservations", "error codes".
export function generatedParts(spec) {
  const parts = new Map([['error codes', errorCodeRows(spec)]]);
  for (const { method, path, op } of operations(spec)) {
    parts.set(`role ${method} ${path}`, roleLine(op));
    parts.set(`answers ${method} ${path}`, answersTable(op));
  }
  return parts;
}

const BEGIN = /^<!-- generated from origin\/openapi\.json: (.+) -->$/;
const END = '<!-- end of generated part -->';

// docs/api.md with every generated part written anew from the spec, and what is wrong with its
// markers: a part the spec has and the page lacks, a part the spec does not have, a part twice or
// unclosed.
export function renderDocs(spec, markdown) {
  const parts = generatedParts(spec);
  const problems = [];
  const seen = new Set();
  const out = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    out.push(lines[i]);
    const begin = BEGIN.exec(lines[i]);
    if (!begin) continue;
    const key = begin[1];
    const end = lines.indexOf(END, i + 1);
    if (end < 0) {
      problems.push(`docs/api.md:${i + 1}: "${key}" has no end marker`);
      break;
    }
    if (seen.has(key)) problems.push(`docs/api.md:${i + 1}: "${key}" is there twice`);
    seen.add(key);
    if (parts.has(key)) out.push(parts.get(key));
    else problems.push(`docs/api.md:${i + 1}: "${key}" is not a part of the spec`);
    out.push(END);
    i = end;
  }
  for (const key of parts.keys()) {
    if (!seen.has(key)) problems.push(`docs/api.md has no generated part "${key}"`);
  }
  return { markdown: out.join('\n'), problems };
}

// Drift between the spec and the page: the markers' problems, and every generated part that is
// not what the spec says now.
export function checkDocs(spec, markdown) {
  const { markdown: fresh, problems } = renderDocs(spec, markdown);
  if (problems.length === 0 && fresh !== markdown) {
    const old = markdown.split('\n');
    const line = fresh.split('\n').findIndex((l, i) => l !== old[i]) + 1;
    problems.push(`docs/api.md:${line}: out of date with the spec; run scripts/check-api-docs --write`);
  }
  return problems;
}

// Everything, from the files: the spec on its own, then the docs against it.
export function checkFiles(specPath = SPEC_PATH, docsPath = DOCS_PATH) {
  const { spec, problems } = parseSpec(readFileSync(specPath, 'utf8'));
  if (!spec) return problems;
  return [...checkSpec(spec), ...checkDocs(spec, readFileSync(docsPath, 'utf8'))];
}

function main(argv) {
  const options = parseCli(argv, { write: false }, { script: import.meta.url, positionals: true });
  const [specPath = SPEC_PATH, docsPath = DOCS_PATH] = options.positionals;
  let problems;
  try {
    if (options.write) {
      const { spec, problems: bad } = parseSpec(readFileSync(specPath, 'utf8'));
      problems = spec ? checkSpec(spec) : bad;
      if (problems.length === 0) {
        const rendered = renderDocs(spec, readFileSync(docsPath, 'utf8'));
        problems = rendered.problems;
        if (problems.length === 0) writeFileSync(docsPath, rendered.markdown);
      }
    } else {
      problems = checkFiles(specPath, docsPath);
    }
  } catch (e) {
    problems = [e.message];
  }
  for (const p of problems) console.error(`check-api-docs: ${p}`);
  if (problems.length > 0) return 1;
  const { spec } = parseSpec(readFileSync(specPath, 'utf8'));
  const done = options.write ? 'wrote' : 'ok';
  console.log(`check-api-docs: ${done} (${operations(spec).length} operations)`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
