// Checks that origin/openapi.json is a sound OpenAPI 3.0.3 document and that docs/api.md describes
// exactly its operations: same endpoints, same role, same response statuses and error codes, same
// error code table. Used by scripts/check-api-docs (command line) and tests/api_docs.test.mjs.
// Every check returns a list of problems (strings); an empty list means no drift.
//
//   scripts/check-api-docs [SPEC [DOCS]]   (defaults origin/openapi.json and docs/api.md)
import { readFileSync } from 'node:fs';
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
  }
  return problems;
}

const ENDPOINT = /^(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS)\s+(\/[^\s?#]*)(\?\S*)?$/;

// Strips markdown decoration around a short line: backticks, emphasis, trailing description.
function plain(text) {
  return text.replace(/[`*]/g, '').replace(/\s+[—–-]\s+.*$/, '').trim();
}

// The endpoints of docs/api.md: headings like "### `POST /v1/reservations`" (with their section's
// role and status table) and lines holding only "METHOD /path".
export function parseDocs(markdown) {
  const lines = markdown.split('\n');
  const headings = new Map();  // "METHOD /path" -> {line, role, statuses: Map(status -> Set(code))}
  const mentions = new Set();  // "METHOD /path" on a line of its own
  const errorCodes = new Map();  // code -> status, from the table of the "Errors" section
  let fence = false;
  let current = null;  // the endpoint section being read
  let currentLevel = 0;
  let inErrors = false;
  lines.forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      return;
    }
    if (fence) return;
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const level = heading[1].length;
      const m = ENDPOINT.exec(plain(heading[2]));
      if (current && level <= currentLevel) current = null;
      inErrors = level <= 2 ? /^errors$/i.test(plain(heading[2])) : inErrors && level > 2;
      if (m) {
        const key = `${m[1]} ${m[2]}`;
        current = { line: i + 1, role: null, statuses: new Map() };
        currentLevel = level;
        if (headings.has(key)) current.duplicate = true;
        headings.set(key, current);
      }
      return;
    }
    const standalone = ENDPOINT.exec(plain(line));
    if (standalone) mentions.add(`${standalone[1]} ${standalone[2]}`);
    if (current) {
      const role = /\*\*Role:\*\*\s*`?([a-z]+)`?/.exec(line);
      if (role && current.role === null) current.role = role[1];
      const row = /^\|\s*(\d{3})\s*\|\s*(`([a-z_]+)`)?/.exec(line);
      if (row) {
        const codes = current.statuses.get(row[1]) ?? new Set();
        if (row[3]) codes.add(row[3]);
        current.statuses.set(row[1], codes);
      }
    }
    if (inErrors) {
      const row = /^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
      if (row) errorCodes.set(row[1], Number(row[2]));
    }
  });
  return { headings, mentions, errorCodes };
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

// Drift between the spec and the human reference.
export function checkDocs(spec, markdown) {
  const problems = [];
  const docs = parseDocs(markdown);
  const ops = operations(spec);
  const inSpec = new Set(ops.map((o) => `${o.method} ${o.path}`));

  for (const { method, path, op } of ops) {
    const key = `${method} ${path}`;
    const section = docs.headings.get(key);
    if (!section) {
      if (!docs.mentions.has(key)) problems.push(`docs/api.md does not document ${key}`);
      continue;
    }
    const fail = (message) => problems.push(`docs/api.md:${section.line} ${key}: ${message}`);
    if (section.duplicate) fail('documented twice');
    const role = op['x-stockgate-role'];
    if (section.role !== role) {
      fail(`role is ${section.role ?? '(none; write **Role:** `...`)'}, the spec says ${role}`);
    }
    const specStatuses = new Set(Object.keys(op.responses ?? {}));
    const docStatuses = new Set(section.statuses.keys());
    for (const s of specStatuses) {
      if (!docStatuses.has(s)) fail(`status ${s} of the spec is not in the docs`);
    }
    for (const s of docStatuses) {
      if (!specStatuses.has(s)) fail(`status ${s} is not in the spec`);
    }
    for (const [status, raw] of Object.entries(op.responses ?? {})) {
      const specCodes = new Set(deref(spec, raw)?.['x-stockgate-codes'] ?? []);
      const docCodes = section.statuses.get(status);
      if (!docCodes || specCodes.size === 0) continue;
      if (!sameSet(specCodes, docCodes)) {
        const list = (set) => `[${[...set].join(', ')}]`;
        fail(
          `status ${status} has codes ${list(docCodes)} in the docs, ${list(specCodes)} in the spec`,
        );
      }
    }
  }
  for (const [key, section] of docs.headings) {
    if (!inSpec.has(key)) problems.push(`docs/api.md:${section.line}: ${key} is not in the spec`);
  }

  const codes = errorCodeTable(spec);
  if (docs.errorCodes.size === 0) problems.push('docs/api.md: no error code table under "## Errors"');
  for (const name of codes.names) {
    const documented = docs.errorCodes.get(name);
    if (documented === undefined) {
      problems.push(`docs/api.md: error code ${name} is not in the Errors table`);
    } else if (documented !== codes.status[name]) {
      const want = codes.status[name];
      problems.push(`docs/api.md: error code ${name} is ${documented} in the docs, ${want} in the spec`);
    }
  }
  for (const name of docs.errorCodes.keys()) {
    if (!codes.names.has(name)) problems.push(`docs/api.md: error code ${name} is not in the spec`);
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
  const { positionals } = parseCli(argv, {}, { script: import.meta.url, positionals: true });
  const [specPath = SPEC_PATH, docsPath = DOCS_PATH] = positionals;
  let problems;
  try {
    problems = checkFiles(specPath, docsPath);
  } catch (e) {
    problems = [e.message];
  }
  for (const p of problems) console.error(`check-api-docs: ${p}`);
  if (problems.length > 0) return 1;
  const { spec } = parseSpec(readFileSync(specPath, 'utf8'));
  console.log(`check-api-docs: ok (${operations(spec).length} operations)`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
