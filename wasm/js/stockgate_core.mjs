// JavaScript face of the stockgate core ABI (wasm/stockgate_abi.cc), shared by the edge worker,
// the browser demo, the tests and the benchmarks. It works over either build: the wasm32-wasi
// core.wasm (loadWasi) or the emscripten ES module (loadEmscripten). Strings cross as UTF-8 in a
// scratch buffer owned by this wrapper; results come back as plain objects.

export const Kind = Object.freeze({
  reservation: 1,
  extend: 2,
  transition: 3,
  set_stock: 4,
  adjustment: 5,
  sku: 6,
  order_id: 7,
  sku_list: 8,
});

export const VerdictNames = Object.freeze(['admitted', 'invalid', 'rate_limited', 'sold_out']);

// The WASI calls core.wasm imports (abort's message path only). Anything else it might import is
// a build mistake, and instantiation fails on the missing import rather than run half-stubbed.
export const WASI_IMPORTS = Object.freeze(['fd_close', 'fd_seek', 'fd_write']);
const ENOSYS = 52;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function wasiStubs() {
  const stubs = {};
  for (const name of WASI_IMPORTS) stubs[name] = () => ENOSYS;
  return { wasi_snapshot_preview1: stubs };
}

// core.wasm from a WebAssembly.Module, or from its bytes.
export async function loadWasi(moduleOrBytes) {
  const module =
    moduleOrBytes instanceof WebAssembly.Module
      ? moduleOrBytes
      : await WebAssembly.compile(moduleOrBytes);
  const instance = await WebAssembly.instantiate(module, wasiStubs());
  instance.exports._initialize();
  const exports = instance.exports;
  return new StockgateCore(
    (name) => exports[name],
    () => exports.memory.buffer,
    'wasi',
  );
}

// The emscripten build, from its ES module factory (the default export of stockgate_core.mjs).
export async function loadEmscripten(createStockgateCore, options = {}) {
  const mod = await createStockgateCore(options);
  return new StockgateCore(
    (name) => mod['_' + name],
    () => mod.HEAPU8.buffer,
    'emscripten',
  );
}

export class StockgateCore {
  constructor(fn, buffer, flavor) {
    this.flavor = flavor;
    this._buffer = buffer;
    const f = (name) => {
      const g = fn(name);
      if (typeof g !== 'function') throw new Error(`stockgate core: missing export ${name}`);
      return g;
    };
    this._f = {};
    for (const name of [
      'stockgate_abi_version', 'stockgate_alloc', 'stockgate_free', 'stockgate_code_name',
      'stockgate_code_http_status', 'stockgate_max_body_bytes', 'stockgate_validate',
      'stockgate_gate_new', 'stockgate_gate_free', 'stockgate_gate_set_available',
      'stockgate_gate_confirm_hints',
      'stockgate_gate_admit_reservation', 'stockgate_gate_admit_client', 'stockgate_gate_stat',
      'stockgate_result_code', 'stockgate_result_verdict', 'stockgate_result_retry_after_ms',
      'stockgate_result_field_ptr', 'stockgate_result_field_len', 'stockgate_result_message_ptr',
      'stockgate_result_message_len', 'stockgate_result_body_ptr', 'stockgate_result_body_len',
      'stockgate_result_body_serial',
    ]) {
      this._f[name.slice('stockgate_'.length)] = f(name);
    }
    // The gate's verdicts by number, for callers that cannot import this module by path (the
    // edge worker's modules are named flat in workerd).
    this.verdictNames = VerdictNames;
    this.abiVersion = this._f.abi_version();
    this.maxBodyBytes = this._f.max_body_bytes();
    this._scratchPtr = 0;
    this._scratchCap = 0;
    // The last error body read out of memory, as text and as bytes, and the serial of each (see
    // _lastBody).
    this._textSerial = -1;
    this._bodyText = '';
    this._bytesSerial = -1;
    this._bodyBytes = new Uint8Array(0);
    this._codeNames = [];
    this._statuses = [];
    for (let code = 0; code < 14; code++) {
      this._codeNames.push(this._cString(this._f.code_name(code)));
      this._statuses.push(this._f.code_http_status(code));
    }
  }

  codeName(code) {
    return this._codeNames[code] ?? 'unknown';
  }

  httpStatus(code) {
    return this._statuses[code] ?? this._f.code_http_status(code);
  }

  // Bytes of linear memory in use; it never shrinks, so tests use it to bound growth.
  memoryBytes() {
    return this._buffer().byteLength;
  }

  // Validates `input` (string or Uint8Array) as a request kind (name or number).
  // Returns {code, name, status, field, message}; code 0 / name 'ok' when valid.
  validate(kind, input) {
    const k = typeof kind === 'number' ? kind : Kind[kind];
    if (k === undefined) throw new TypeError(`unknown request kind ${kind}`);
    const [ptr, len] = this._put([input]);
    const code = this._f.validate(k, ptr, len[0]);
    if (code < 0) throw new RangeError(`stockgate_validate refused kind ${k}`);
    return {
      code,
      name: this.codeName(code),
      status: this.httpStatus(code),
      field: this._str(this._f.result_field_ptr(), this._f.result_field_len()),
      message: this._str(this._f.result_message_ptr(), this._f.result_message_len()),
    };
  }

  // An admission gate. Options (all optional): clientRate, clientBurst, skuRate, skuBurst
  // (per second; rate <= 0 is unlimited), clientCapacity, skuCapacity, admitMultiple, windowMs,
  // maxHintAgeMs, seed (four uint32; random when absent).
  newGate(options = {}) {
    const o = {
      clientRate: 20, clientBurst: 40, skuRate: 0, skuBurst: 1, clientCapacity: 100000,
      skuCapacity: 100000, admitMultiple: 2, windowMs: 250, maxHintAgeMs: 2000, ...options,
    };
    const seed = o.seed ?? Array.from(crypto.getRandomValues(new Uint32Array(4)));
    const handle = this._f.gate_new(
      o.clientRate, o.clientBurst, o.skuRate, o.skuBurst, o.clientCapacity >>> 0,
      o.skuCapacity >>> 0, o.admitMultiple, o.windowMs, o.maxHintAgeMs, seed[0] >>> 0,
      seed[1] >>> 0, seed[2] >>> 0, seed[3] >>> 0);
    if (handle < 0) throw new RangeError('stockgate_gate_new refused its options');
    return new Gate(this, handle);
  }

  // --- memory helpers -------------------------------------------------------------------------

  _cString(ptr) {
    const bytes = new Uint8Array(this._buffer());
    let end = ptr;
    while (bytes[end] !== 0) end++;
    return decoder.decode(bytes.subarray(ptr, end));
  }

  _str(ptr, len) {
    if (len === 0) return '';
    return decoder.decode(this._memory().subarray(ptr, ptr + len));
  }

  // All of linear memory as bytes; a new view only after the memory has grown (growth detaches
  // the old buffer).
  _memory() {
    const buffer = this._buffer();
    if (this._bytes?.buffer !== buffer) this._bytes = new Uint8Array(buffer);
    return this._bytes;
  }

  // The error body of the last decision as text, or as bytes. Each is read out of memory only
  // when the body's serial says it is not the one read before.
  _lastBody() {
    const serial = this._f.result_body_serial();
    if (serial !== this._textSerial) {
      this._bodyText = this._str(this._f.result_body_ptr(), this._f.result_body_len());
      this._textSerial = serial;
    }
    return this._bodyText;
  }

  _lastBodyBytes() {
    const serial = this._f.result_body_serial();
    if (serial !== this._bytesSerial) {
      const ptr = this._f.result_body_ptr();
      this._bodyBytes = this._memory().slice(ptr, ptr + this._f.result_body_len());
      this._bytesSerial = serial;
    }
    return this._bodyBytes;
  }

  // The scratch buffer, at least `need` bytes of it; returns its address.
  _scratch(need) {
    if (need > this._scratchCap) {
      if (this._scratchPtr) this._f.free(this._scratchPtr);
      const cap = Math.max(need, 4096);
      this._scratchPtr = this._f.alloc(cap);
      if (!this._scratchPtr) throw new RangeError('stockgate core: out of memory');
      this._scratchCap = cap;
    }
    return this._scratchPtr;
  }

  // Upper bound of the bytes _write writes for x: UTF-8 is at most 3 bytes per UTF-16 unit.
  static _bound(x) {
    return typeof x === 'string' ? x.length * 3 : x.byteLength;
  }

  // Writes x (string as UTF-8, or bytes) at ptr within the scratch buffer; returns its length.
  // Short ASCII text, a client key above all, is copied by hand: encodeInto needs a view of its
  // own, one allocation per call on the hot path.
  _write(x, ptr) {
    const mem = this._memory();
    if (typeof x !== 'string') {
      mem.set(x, ptr);
      return x.byteLength;
    }
    if (x.length <= 64) {
      let i = 0;
      for (; i < x.length; i++) {
        const c = x.charCodeAt(i);
        if (c >= 0x80) break;
        mem[ptr + i] = c;
      }
      if (i === x.length) return i;
    }
    return encoder.encodeInto(x, mem.subarray(ptr, this._scratchPtr + this._scratchCap)).written;
  }

  // Copies the inputs back to back into the scratch buffer; returns [ptr, lengths].
  _put(inputs) {
    let need = 0;
    for (const x of inputs) need += StockgateCore._bound(x);
    const ptr = this._scratch(need);
    const lengths = [];
    let offset = ptr;
    for (const x of inputs) {
      const n = this._write(x, offset);
      lengths.push(n);
      offset += n;
    }
    return [ptr, lengths];
  }
}

export class Gate {
  constructor(core, handle) {
    this._core = core;
    this._f = core._f;
    this.handle = handle;
  }

  // A snapshot value: `available` units of sku at nowMs.
  setAvailable(sku, available, nowMs) {
    if (this._f.gate_set_available(this.handle, sku, available, nowMs) !== 0) {
      throw new RangeError(`setAvailable refused sku ${sku} available ${available}`);
    }
  }

  // A snapshot delta taken at nowMs changed no SKU it did not hand to setAvailable: every hint set
  // since sinceMs (when this run of deltas started) counts as fresh as nowMs.
  confirmHints(nowMs, sinceMs) {
    if (this._f.gate_confirm_hints(this.handle, nowMs, sinceMs) !== 0) {
      throw new RangeError(`confirmHints refused now ${nowMs} since ${sinceMs}`);
    }
  }

  // Decides on a POST /v1/reservations body. Returns {verdict, code, name, status, retryAfterMs,
  // body} where body is the HTTP error body ('' when admitted).
  admitReservation(client, body, nowMs) {
    return this._decision(this.admitReservationVerdict(client, body, nowMs));
  }

  // Decides on any other request from a client (its token bucket only).
  admitClient(client, nowMs) {
    return this._decision(this.admitClientVerdict(client, nowMs));
  }

  // Only the verdict (an index of VerdictNames), without building a result object: the hot path
  // of a benchmark or a worker, which reads what it needs of a rejection through lastCode(),
  // lastRetryAfterMs() and lastBody() or lastBodyBytes().
  admitReservationVerdict(client, body, nowMs) {
    // _put's work without its arrays: this is the call of every reservation at the edge.
    const core = this._core;
    const ptr = core._scratch(StockgateCore._bound(client) + StockgateCore._bound(body));
    const n = core._write(client, ptr);
    const m = core._write(body, ptr + n);
    return this._f.gate_admit_reservation(this.handle, nowMs, ptr, n, ptr + n, m);
  }

  admitClientVerdict(client, nowMs) {
    const core = this._core;
    const ptr = core._scratch(StockgateCore._bound(client));
    return this._f.gate_admit_client(this.handle, nowMs, ptr, core._write(client, ptr));
  }

  lastCode() {
    return this._f.result_code();
  }

  // The HTTP error body of the last decision ('' when admitted). A flood of one rejection gets
  // the same string each time, read out of memory once.
  lastBody() {
    return this._core._lastBody();
  }

  // The same body as UTF-8 bytes: a response body that workerd sends as it is, where text would
  // be encoded again and have its content type parsed. Shared like the string: the same array
  // while the body does not change, so it must never be written to.
  lastBodyBytes() {
    return this._core._lastBodyBytes();
  }

  lastRetryAfterMs() {
    return this._f.result_retry_after_ms();
  }

  stats() {
    return {
      clientEntries: this._f.gate_stat(this.handle, 0),
      skuEntries: this._f.gate_stat(this.handle, 1),
      clientEvictions: this._f.gate_stat(this.handle, 2),
      skuEvictions: this._f.gate_stat(this.handle, 3),
    };
  }

  free() {
    this._f.gate_free(this.handle);
    this.handle = 0;
  }

  _decision(verdict) {
    if (verdict < 0) throw new RangeError('stockgate gate: bad handle');
    const code = this._f.result_code();
    return {
      verdict: VerdictNames[verdict],
      code,
      name: this._core.codeName(code),
      status: this._core.httpStatus(code),
      retryAfterMs: this._f.result_retry_after_ms(),
      body: this.lastBody(),
    };
  }
}
