// Command-line options of the repository's node tools, on node:util parseArgs. Every tool answers
// --help (or -h) with its usage, the comment block at the top of its file, and its options with
// their defaults, and exits 0 having done nothing else; an unknown or malformed option is refused
// in one line (exit 2).
//
//   const o = parseCli(process.argv.slice(2), { rounds: 5, smoke: false }, { script: import.meta.url });
//
// Options are the defaults' names in kebab case (`--reject-concurrency` sets rejectConcurrency),
// converted by the default's type: boolean (a flag), number, array of numbers (comma-separated)
// or string. With `positionals`, words that are not options are allowed and returned in
// o.positionals.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// An option's name on the command line: rejectConcurrency -> reject-concurrency.
export const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

// The comment block at the top of a file (after any shebang), without its comment marks.
export function usageOf(scriptUrl) {
  const lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  const out = [];
  for (const line of lines) {
    if (out.length === 0 && line.startsWith('#!')) continue;
    if (!line.startsWith('//')) break;
    out.push(line.replace(/^\/\/ ?/, ''));
  }
  return out.join('\n').trim();
}

function helpText(script, defaults) {
  const rows = Object.entries(defaults).map(([name, def]) => {
    const shown = typeof def === 'boolean' ? '(a flag)'
      : Array.isArray(def) ? `(default ${def.join(',')})`
        : def === '' ? '(default: none)' : `(default ${def})`;
    return `  --${kebab(name)}${typeof def === 'boolean' ? '' : ' VALUE'}  ${shown}`;
  });
  return `${usageOf(script)}\n\nOptions:\n  -h, --help  this text\n${rows.join('\n')}\n`;
}

function refuse(name, message) {
  process.stderr.write(`${name}: ${message} (see --help)\n`);
  process.exit(2);
}

export function parseCli(argv, defaults, { script, positionals = false } = {}) {
  const name = basename(fileURLToPath(script));
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const [key, def] of Object.entries(defaults)) {
    options[kebab(key)] = { type: typeof def === 'boolean' ? 'boolean' : 'string' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (e) {
    refuse(name, e.message.split('\n')[0]);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(script, defaults));
    process.exit(0);
  }
  const o = { ...defaults, positionals: parsed.positionals };
  for (const [key, def] of Object.entries(defaults)) {
    const text = parsed.values[kebab(key)];
    if (text === undefined) continue;
    if (typeof def === 'boolean') {
      o[key] = text;
      continue;
    }
    const value = Array.isArray(def) ? text.split(',').map(Number)
      : typeof def === 'number' ? Number(text) : text;
    if ([value].flat().some((x) => typeof x === 'number' && !Number.isFinite(x))) {
      refuse(name, `--${kebab(key)} takes ${Array.isArray(def) ? 'numbers' : 'a number'}, got ${text}`);
    }
    o[key] = value;
  }
  return o;
}
