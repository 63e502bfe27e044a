// The real-cluster source: from one member's URL, discover the members
// (GET /cluster), open every member's event stream (/events, WebSocket),
// merge the streams in time order, and send the admin actions the cluster
// allows over its HTTP API. Sends and deliveries pair up by (sender,
// message id) in the model, whichever stream they came from.

/** Events wait this long for slower streams before they are merged (ms). */
const MERGE_DELAY_MS = 150;
/** How often the member list is refreshed (ms). */
const DISCOVER_EVERY_MS = 3000;

/** Normalizes a member URL typed by a person. */
export function normalizeURL(url) {
  let u = url.trim();
  if (!/^[a-z]+:\/\//i.test(u)) u = `http://${u}`;
  const parsed = new URL(u);
  if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error(`${url}: want an http:// or https:// URL`);
  return `${parsed.protocol}//${parsed.host}`;
}

/**
 * Detail events (messages, storage writes) a second the page asks each
 * member for: more than anyone can follow, few enough that watching a
 * loaded member costs it little. The rest come as a "dropped" count.
 */
export const EVENT_RATE = 2000;

/** The /events WebSocket URL of a member, resuming after seq. */
export function eventsURL(base, since) {
  const u = new URL(base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/events';
  u.search = since ? `?since=${since}&rate=${EVENT_RATE}` : `?rate=${EVENT_RATE}`;
  return u.toString();
}

/**
 * Merger orders the events of several streams by time: each stream is in
 * order, so an event can be released once every open stream has moved past
 * it or it is older than the merge delay.
 */
export class Merger {
  constructor() { this.pending = []; }
  add(events) { for (const e of events) this.pending.push(e); }
  /** Releases the events older than now - delay, in time order. */
  release(now, delay = MERGE_DELAY_MS) {
    if (!this.pending.length) return [];
    this.pending.sort((a, b) => a.time - b.time || a.node - b.node || a.seq - b.seq);
    let n = 0;
    while (n < this.pending.length && this.pending[n].time <= now - delay) n++;
    return this.pending.splice(0, n);
  }
}

export class LiveSource {
  /**
   * @param {string} url any member of the cluster
   * @param {string} token the admin token ('' for none)
   * @param {{events:(evs:object[])=>void, status:(msg:string, error?:boolean)=>void, t:(k:string,p?:object)=>string}} handlers
   */
  constructor(url, token, handlers) {
    this.base = normalizeURL(url);
    this.token = token;
    this.handlers = handlers;
    this.streams = new Map(); // member id -> {url, ws, lastSeq, closed}
    this.merger = new Merger();
    this.cluster = null;
    this.tickMs = 100;
    this.stopped = false;
    this.timers = [];
  }

  async start() {
    await this.discover();
    this.timers.push(setInterval(() => this.discover().catch((err) => this.handlers.status(err.message, true)), DISCOVER_EVERY_MS));
    this.timers.push(setInterval(() => this.flush(), 50));
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.streams.values()) {
      s.closed = true;
      s.ws?.close();
    }
    this.streams.clear();
  }

  flush() {
    const evs = this.merger.release(Date.now());
    if (evs.length) this.handlers.events(evs);
  }

  async api(method, path, body, base = this.base) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined && typeof body !== 'string') headers['Content-Type'] = 'application/json';
    const resp = await fetch(base + path, { method, headers, body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
    const text = await resp.text();
    if (!resp.ok) {
      let msg = text;
      try { msg = JSON.parse(text).error || text; } catch { /* not JSON */ }
      throw new Error(`${method} ${path}: ${resp.status} ${msg}`);
    }
    return text;
  }

  async discover() {
    const c = JSON.parse(await this.api('GET', '/cluster?local=1'));
    this.cluster = c;
    if (c.tickMs) this.tickMs = c.tickMs;
    for (const m of c.members) {
      if (!m.url || this.streams.has(m.id)) continue;
      this.open(m.id, m.url);
    }
  }

  open(id, url) {
    const s = { url, ws: null, lastSeq: 0, closed: false, retry: 500 };
    this.streams.set(id, s);
    const connect = () => {
      if (s.closed || this.stopped) return;
      const ws = new WebSocket(eventsURL(url, s.lastSeq));
      s.ws = ws;
      ws.onmessage = (ev) => {
        let f;
        try { f = JSON.parse(ev.data); } catch { return; }
        if (f.events) {
          for (const e of f.events) s.lastSeq = Math.max(s.lastSeq, e.seq);
          this.merger.add(f.events);
        }
        s.retry = 500;
      };
      ws.onclose = (ev) => {
        if (s.closed || this.stopped) return;
        if (ev.code === 4001) this.handlers.status(`n${id}: stream too slow, resuming`);
        setTimeout(connect, s.retry);
        s.retry = Math.min(s.retry * 2, 5000);
      };
    };
    connect();
  }

  /** Performs an action over the cluster's HTTP API. */
  async act(a) {
    const key = encodeURIComponent(a.key || '').replace(/%2F/g, '/');
    const on = (id) => (id && this.streams.get(id)?.url) || this.base;
    try {
      switch (a.kind) {
        case 'put': await this.api('PUT', `/kv/${key}`, a.value ?? '', on(a.node)); break;
        case 'delete': await this.api('DELETE', `/kv/${key}`, undefined, on(a.node)); break;
        case 'read': await this.api('GET', `/kv/${key}`, undefined, on(a.node)).catch((err) => { if (!/404/.test(err.message)) throw err; }); break;
        case 'snapshot': await this.api('POST', '/cluster/snapshot', '', on(a.node)); break;
        case 'transfer': await this.api('POST', '/cluster/leader', { id: a.peer }); break;
        case 'promote': await this.api('POST', `/cluster/members/${a.peer}/promote`, ''); break;
        case 'remove': await this.api('DELETE', `/cluster/members/${a.peer}`); break;
        default: throw new Error(`${a.kind} is for the simulator only: a real member is crashed by stopping its process`);
      }
    } catch (err) {
      this.handlers.status(err.message, true);
    }
  }
}
