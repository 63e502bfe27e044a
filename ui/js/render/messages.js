// Messages moving between members: each type its own glyph, letter and
// colour (requests filled, responses hollow), travelling from sender to
// receiver over its real latency; a dropped message stops where it was lost,
// crossed out. Requests and responses of a pair travel on parallel lanes.

import { t } from '../i18n.js';
import { el } from './cluster.js';

/** Glyph, letter and colour of each drawn message type. */
export const GLYPHS = {
  MsgPreVote: { shape: 'ballot', tag: 'pV', color: '#f2b5d4' },
  MsgPreVoteResp: { shape: 'ballot', tag: 'pV', color: '#f2b5d4', resp: true },
  MsgVote: { shape: 'ballot', tag: 'V', color: '#cc79a7' },
  MsgVoteResp: { shape: 'ballot', tag: 'V', color: '#cc79a7', resp: true },
  MsgHeartbeat: { shape: 'dot', tag: 'H', color: '#bdbdbd' },
  MsgHeartbeatResp: { shape: 'dot', tag: 'H', color: '#bdbdbd', resp: true },
  MsgApp: { shape: 'box', tag: 'A', color: '#56b4e9' },
  MsgAppResp: { shape: 'box', tag: 'A', color: '#56b4e9', resp: true },
  MsgSnap: { shape: 'big', tag: 'S', color: '#009e73' },
  MsgTimeoutNow: { shape: 'bolt', tag: 'T', color: '#d55e00' },
  MsgReadIndex: { shape: 'diamond', tag: 'R', color: '#f0e442' },
  MsgReadIndexResp: { shape: 'diamond', tag: 'R', color: '#f0e442', resp: true },
  MsgProp: { shape: 'tri', tag: 'P', color: '#e69f00' },
  MsgTransferLeader: { shape: 'bolt', tag: 'T', color: '#d55e00' },
  MsgForgetLeader: { shape: 'dot', tag: '?', color: '#ffffff' },
};

const OTHER = { shape: 'dot', tag: '?', color: '#ffffff' };

/** SVG path of a glyph around (0, 0). */
export function glyphPath(shape) {
  switch (shape) {
    case 'ballot': return 'M-13,-10H13V10H-13Z';
    case 'box': return 'M-14,-11H14V11H-14Z';
    case 'big': return 'M-20,-15H20V15H-20Z';
    case 'bolt': return 'M-4,-16L10,-2H2L6,16L-10,0H-2Z';
    case 'diamond': return 'M0,-14L14,0L0,14L-14,0Z';
    case 'tri': return 'M0,-14L14,12H-14Z';
    default: return 'M-11,0a11,11 0 1,0 22,0a11,11 0 1,0 -22,0';
  }
}

/** The letter shown on a message: the entry count for appends. */
/** How much bigger than their path the glyphs are drawn. */
const GLYPH_SCALE = 1.5;

function tagOf(m, g) {
  if (m.type === 'MsgApp' && m.entries && m.entries.length) return `A${m.entries.length}`;
  return g.tag;
}

/** How long a message with no known arrival time takes on screen (ms of display time). */
const MIN_FLIGHT_MS = 300;

export class MessagesView {
  /**
   * @param {SVGGElement} g
   * @param {{onMessage: (key:string, ev:Event)=>void}} handlers
   */
  constructor(g, handlers) {
    this.g = g;
    this.els = new Map();
    this.handlers = handlers;
  }

  /**
   * @param {object} state
   * @param {{t:number, pos:object, selectedMsg:string, reducedMotion:boolean, showHeartbeats:boolean}} view
   */
  render(state, view) {
    const seen = new Set();
    for (const key in state.messages) {
      const rec = state.messages[key];
      const m = rec.msg;
      if (!view.showHeartbeats && (m.type === 'MsgHeartbeat' || m.type === 'MsgHeartbeatResp') && rec.status !== 'dropped') continue;
      // A real network delivers in a millisecond: keep a delivered message
      // on screen for its minimum flight so it can be seen at all.
      if (rec.status === 'delivered' && !(view.live && view.t < rec.sentAt + MIN_FLIGHT_MS)) continue;
      const a = view.pos[m.from];
      const b = view.pos[m.to];
      if (!a || !b) continue;
      seen.add(key);
      let e = this.els.get(key);
      const g = GLYPHS[m.type] || OTHER;
      if (!e) {
        e = el('g', { class: `msg${g.resp ? ' resp' : ''}`, 'data-msg': key, 'data-type': m.type, tabindex: '0' }, this.g);
        const inner = el('g', { transform: `scale(${GLYPH_SCALE})` }, e);
        el('path', { class: 'glyph', d: glyphPath(g.shape), fill: g.color }, inner);
        el('text', { class: 'tag' }, inner).textContent = tagOf(m, g);
        el('title', {}, e).textContent = t('msg.title', { type: m.type, from: m.from, to: m.to, term: m.term });
        e.addEventListener('click', (ev) => { ev.stopPropagation(); this.handlers.onMessage(key, ev); });
        this.els.set(key, e);
      }
      // Progress along the link, 0 at the sender, 1 at the receiver.
      const end = rec.deliverAt > rec.sentAt ? rec.deliverAt : rec.sentAt + MIN_FLIGHT_MS;
      const at = rec.status === 'dropped' ? Math.min(view.t, rec.endAt) : view.t;
      let p = (at - rec.sentAt) / (end - rec.sentAt);
      p = Math.max(0, Math.min(1, p));
      if (view.reducedMotion) p = rec.status === 'dropped' ? 0.5 : 0.5; // a still marker mid-link
      // Lanes: messages toward the higher id on one side, back on the other.
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const lane = (m.from < m.to ? 1 : -1) * 20;
      const shrink = 78 / len; // start and end at the members' edges
      const q = shrink + p * (1 - 2 * shrink);
      const x = a.x + dx * q - (dy / len) * lane;
      const y = a.y + dy * q + (dx / len) * lane;
      e.setAttribute('transform', `translate(${x.toFixed(1)},${y.toFixed(1)})`);
      e.classList.toggle('dropped', rec.status === 'dropped');
      e.classList.toggle('selected', view.selectedMsg === key);
      if (rec.status === 'dropped' && !e.querySelector('.cross')) {
        el('path', { class: 'cross', d: 'M-18,-18L18,18M18,-18L-18,18' }, e);
      }
    }
    for (const [key, e] of this.els) {
      if (!seen.has(key)) {
        e.remove();
        this.els.delete(key);
      }
    }
  }
}

/** The legend of message glyphs, as list items. */
export function legendItems() {
  const shown = ['MsgPreVote', 'MsgVote', 'MsgVoteResp', 'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgApp', 'MsgAppResp', 'MsgSnap', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp', 'MsgProp'];
  return shown.map((type) => ({ type, glyph: GLYPHS[type], label: t(`legend.${type}`) }));
}
