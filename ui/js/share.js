// A run is shared as a URL whose fragment holds its seed, configuration,
// action log and the time shown: the simulator replays it exactly. The
// fragment never reaches a server.

const PREFIX = '#run=';

function toBase64Url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** The URL fragment of a run {config, actions, t}. */
export function encodeRun(run) {
  const json = JSON.stringify({ v: 1, config: run.config, actions: run.actions, t: run.t });
  return PREFIX + toBase64Url(new TextEncoder().encode(json));
}

/** The run in a URL fragment, or null when there is none or it is malformed. */
export function decodeRun(hash) {
  if (!hash || !hash.startsWith(PREFIX)) return null;
  try {
    const run = JSON.parse(new TextDecoder().decode(fromBase64Url(hash.slice(PREFIX.length))));
    if (run.v !== 1 || typeof run.config !== 'object' || !Array.isArray(run.actions) || typeof run.t !== 'number' || run.t < 0) return null;
    return run;
  } catch {
    return null;
  }
}
