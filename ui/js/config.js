// Settings shared by the page's modules.

/** The simulated cluster a visitor first sees. */
export const DEFAULT_CONFIG = {
  nodes: 5,
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  latencyMs: 50,
  jitterMs: 20,
  snapshotEntries: 20,
  catchUpEntries: 5,
};

/** Virtual milliseconds as seconds with three decimals. */
export function fmtTime(ms) {
  return `${(ms / 1000).toFixed(3)} s`;
}
