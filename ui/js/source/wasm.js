// The simulator source: the real raft compiled to WebAssembly (wasm/), a
// deterministic cluster in this tab. This wrapper loads it and checks every
// answer: the Go side answers JSON {ok} or {error}.

let loading = null;

/** Loads core.wasm once; resolves to the Simulator. */
export function loadSimulator(base = 'wasm/') {
  if (!loading) loading = load(base);
  return loading;
}

async function load(base) {
  if (!globalThis.Go) {
    await import(new URL(base + 'wasm_exec.js', document.baseURI).href);
  }
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.raftlabReady = resolve; });
  const url = new URL(base + 'core.wasm', document.baseURI).href;
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
  } catch (err) {
    // Servers that do not send application/wasm: fall back to bytes.
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`loading ${url}: ${resp.status} ${resp.statusText}`);
    result = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
  }
  go.run(result.instance).catch((err) => console.error('raftlab wasm exited', err));
  await ready;
  return new Simulator(globalThis.raftlab);
}

/** An error the simulator answered. */
export class SimError extends Error {}

function unwrap(json) {
  const r = JSON.parse(json);
  if (r.error) {
    if (r.panic) console.error('raftlab wasm:', r.error);
    throw new SimError(r.error);
  }
  return r.ok;
}

/** The simulator's API, checked. Handles are numbers. */
export class Simulator {
  constructor(api) { this.api = api; }
  create(config) { return unwrap(this.api.create(JSON.stringify(config))); }
  /** @returns {{now:number, steps:number, nextAt?:number, events:object[], more:boolean, halted?:string}} */
  advance(h, untilMs, maxEvents) { return unwrap(this.api.advance(h, Math.floor(untilMs), maxEvents)); }
  step(h) { return unwrap(this.api.step(h)); }
  act(h, action) { return unwrap(this.api.act(h, JSON.stringify(action))); }
  status(h) { return unwrap(this.api.status(h)); }
  storage(h, id) { return unwrap(this.api.storage(h, id)); }
  destroy(h) { return unwrap(this.api.destroy(h)); }
  async replay(config, actions, untilMs) {
    return unwrap(await this.api.replay(JSON.stringify({ config, actions, untilMs: Math.floor(untilMs) })));
  }
}
