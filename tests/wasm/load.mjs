// Loads both wasm builds for the node suites, from the paths ctest passes in the environment.
// A missing build is an error, never a skip: the suites exist to hold the wasm builds to the
// native one.
import { readFileSync, existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadWasi, loadEmscripten } from '../../wasm/js/stockgate_core.mjs';

function required(name) {
  const path = process.env[name];
  if (!path) throw new Error(`${name} is not set (run this suite through ctest)`);
  if (!existsSync(path)) {
    throw new Error(`${name}=${path} does not exist: build the wasi and emscripten presets first`);
  }
  return path;
}

export function wasiModulePath() {
  return required('STOCKGATE_WASI_MODULE');
}

export async function loadFlavors() {
  const wasi = await loadWasi(readFileSync(required('STOCKGATE_WASI_MODULE')));
  const mjs = required('STOCKGATE_EMSCRIPTEN_MODULE');
  const factory = (await import(pathToFileURL(mjs).href)).default;
  // The browser build fetches its .wasm by URL; under node, hand it the bytes instead.
  const wasmBinary = readFileSync(mjs.replace(/\.mjs$/, '.wasm'));
  const emscripten = await loadEmscripten(factory, { wasmBinary });
  return { wasi, emscripten };
}

export function readJson(envName) {
  return JSON.parse(readFileSync(required(envName), 'utf8'));
}

export function readJsonLines(envName) {
  return readFileSync(required(envName), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}
