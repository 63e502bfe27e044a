// The cluster view: members on a ring, each a shape for its role (circle
// follower, dashed circle pre-candidate, diamond candidate, hexagon leader,
// grey dashed when down), filled with its term's colour, the election timer
// as an arc around it (§5.2) and a candidate's votes as dots. Links show
// partitions and cut links. Elements are kept and updated, never rebuilt,
// so a frame costs little.

import { t } from '../i18n.js';
import { setAttr, setStyle, setText } from '../dom.js';
import { timerAt, nodeIds } from '../model/state.js';

const SVG = 'http://www.w3.org/2000/svg';
export const RING = 290;
export const NODE_R = 56;
/** The height of the drawing in SVG units; the width follows the stage. */
const VIEW_H = 860;

/**
 * Positions of the members on a ring, by id: an ellipse as wide as the
 * stage allows, so a wide screen spreads them out.
 */
export function layout(ids, aspect = 1) {
  const pos = {};
  const ry = RING;
  const rx = Math.max(RING, Math.min(RING * aspect * 0.95, RING * 1.7));
  ids.forEach((id, k) => {
    const a = -Math.PI / 2 + (2 * Math.PI * k) / ids.length;
    pos[id] = { x: Math.round(rx * Math.cos(a)), y: Math.round(ry * Math.sin(a)) };
  });
  return pos;
}

/** The fill of a term: Okabe-Ito colours, cycling. */
export function termColor(term) {
  return `var(--term-${term % 8})`;
}

/** Whether text on a term's colour should be white (Okabe-Ito's darker ones). */
export function darkTerm(term) {
  return [2, 4, 5, 7].includes(term % 8);
}

export function el(tag, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function shape(role, r) {
  switch (role) {
    case 'leader': {
      const pts = [];
      for (let i = 0; i < 6; i++) {
        const a = Math.PI / 6 + (i * Math.PI) / 3;
        pts.push(`${(r * 1.1 * Math.cos(a)).toFixed(1)},${(r * 1.1 * Math.sin(a)).toFixed(1)}`);
      }
      return `M${pts.join('L')}Z`;
    }
    case 'candidate':
      return `M0,${-r * 1.15}L${r * 1.15},0L0,${r * 1.15}L${-r * 1.15},0Z`;
    default:
      return `M${-r},0a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
  }
}

function arc(r, frac) {
  if (frac <= 0) return '';
  if (frac >= 1) frac = 0.9999;
  const a = -Math.PI / 2 + frac * 2 * Math.PI;
  const large = frac > 0.5 ? 1 : 0;
  return `M0,${-r}A${r},${r} 0 ${large},1 ${(r * Math.cos(a)).toFixed(2)},${(r * Math.sin(a)).toFixed(2)}`;
}

/** The word for a role, for labels and screen readers. */
export function roleWord(role) {
  return t(`role.${role}`);
}

export class ClusterView {
  /**
   * @param {SVGSVGElement} svg
   * @param {{onNode: (id:number, ev:Event)=>void}} handlers
   */
  constructor(svg, handlers) {
    this.svg = svg;
    this.gLinks = svg.querySelector('#links');
    this.gNodes = svg.querySelector('#nodes');
    this.nodes = new Map();
    this.links = new Map();
    this.handlers = handlers;
    this.pos = {};
    this.idsKey = '';
    this.aspect = 1;
    // The drawing follows the stage's shape, so nodes use the room there is.
    const fit = () => {
      const w = svg.clientWidth || 1;
      const h = svg.clientHeight || 1;
      const aspect = w / h;
      if (Math.abs(aspect - this.aspect) < 0.02) return;
      this.aspect = aspect;
      const vw = VIEW_H * aspect;
      svg.setAttribute('viewBox', `${(-vw / 2).toFixed(0)} ${-VIEW_H / 2} ${vw.toFixed(0)} ${VIEW_H}`);
      this.idsKey = '';
    };
    if (globalThis.ResizeObserver) new ResizeObserver(fit).observe(svg);
    fit();
  }

  /**
   * @param {object} state model
   * @param {{t:number, tickMs:number, selected:number}} view
   */
  render(state, view) {
    const ids = nodeIds(state).filter((id) => !state.nodes[id].removedFromView);
    const key = ids.join(',');
    if (key !== this.idsKey) {
      this.idsKey = key;
      this.pos = layout(ids, this.aspect);
      this.rebuildLinks(ids);
      for (const [id, r] of this.nodes) {
        if (!ids.includes(id)) {
          r.g.remove();
          this.nodes.delete(id);
        }
      }
    }
    this.renderLinks(state);
    for (const id of ids) this.renderNode(state, state.nodes[id], view);
  }

  rebuildLinks(ids) {
    this.gLinks.replaceChildren();
    this.links.clear();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = this.pos[ids[i]];
        const b = this.pos[ids[j]];
        const line = el('line', { class: 'link', x1: a.x, y1: a.y, x2: b.x, y2: b.y }, this.gLinks);
        this.links.set(`${ids[i]}-${ids[j]}`, line);
      }
    }
  }

  renderLinks(state) {
    const net = state.network;
    const groupOf = (id) => {
      const g = (net.groups || []).findIndex((grp) => grp.includes(id));
      return g < 0 ? (net.groups || []).length : g;
    };
    const cuts = net.cuts || [];
    for (const [k, line] of this.links) {
      const [a, b] = k.split('-').map(Number);
      const parted = (net.groups || []).length > 0 && groupOf(a) !== groupOf(b);
      const cut = parted || cuts.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
      line.classList.toggle('cut', cut);
    }
  }

  renderNode(state, n, view) {
    let r = this.nodes.get(n.id);
    if (!r) {
      const g = el('g', { class: 'node', tabindex: '0', 'data-node-id': n.id }, this.gNodes);
      r = {
        g,
        track: el('circle', { class: 'timer-track', r: NODE_R + 13 }, g),
        timer: el('path', { class: 'timer' }, g),
        body: el('path', { class: 'body' }, g),
        label: el('text', { class: 'label', y: -12 }, g),
        sub: el('text', { class: 'sub', y: 22 }, g),
        tag: el('text', { class: 'role-tag', y: NODE_R + 44 }, g),
        votes: el('g', { class: 'votes' }, g),
        title: el('title', {}, g),
      };
      g.addEventListener('click', (ev) => this.handlers.onNode(n.id, ev));
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          this.handlers.onNode(n.id, ev);
        }
      });
      this.nodes.set(n.id, r);
    }
    // Drawn every frame while playing: only what changed is written, as
    // each write makes the browser restyle and lay out again.
    const p = this.pos[n.id];
    const role = n.up ? n.role : (n.stopped ? 'stopped' : 'down');
    const g = r.g;
    setAttr(g, 'transform', `translate(${p.x},${p.y})`);
    setAttr(g, 'data-role', role);
    setAttr(g, 'class', `node ${role}${view.selected === n.id ? ' selected' : ''}`);
    setAttr(g, 'aria-label', t('node.aria', { id: n.id, role: roleWord(role), term: n.term }));
    setAttr(r.body, 'd', shape(role, NODE_R));
    setAttr(r.body, 'fill', termColor(n.term));
    setAttr(r.body, 'stroke-dasharray', role === 'preCandidate' ? '10 6' : '');
    const dark = darkTerm(n.term) && n.up;
    // Inline style: the stylesheet's colours would win over an attribute.
    for (const x of [r.label, r.sub]) setStyle(x, 'fill', dark ? '#fff' : '#1d1d1f');
    setText(r.label, `n${n.id}`);
    setText(r.sub, t('node.term', { term: n.term }));
    setText(r.tag, roleWord(role));
    setText(r.title, t('node.title', { id: n.id, role: roleWord(role), term: n.term, commit: n.commit, applied: n.applied }));
    // The election timer: how long since the member heard from a leader,
    // against its randomized timeout.
    const tm = timerAt(n, view.t, view.tickMs);
    setAttr(r.timer, 'd', tm ? arc(NODE_R + 13, tm.elapsed / tm.timeout) : '');
    setStyle(r.track, 'display', tm ? '' : 'none');
    this.renderVotes(r.votes, n, state);
  }

  renderVotes(gv, n, state) {
    if (!n.votes || !n.up) {
      if (gv.childElementCount) gv.replaceChildren();
      return;
    }
    const voters = (n.confState.voters || []).concat(n.confState.votersOutgoing || []).filter((v, i, a) => a.indexOf(v) === i);
    const key = `${n.votes.term}:${n.votes.pre}:${n.votes.granted.join()}:${n.votes.rejected.join()}:${voters.join()}`;
    if (gv.dataset.key === key) return;
    gv.dataset.key = key;
    gv.replaceChildren();
    voters.forEach((v, i) => {
      const a = -Math.PI / 2 + (i - (voters.length - 1) / 2) * 0.32;
      const r = NODE_R + 30;
      const cls = n.votes.granted.includes(v) ? 'granted' : n.votes.rejected.includes(v) ? 'rejected' : 'pending';
      const c = el('circle', { class: `vote ${cls}`, r: 7, cx: (r * Math.cos(a)).toFixed(1), cy: (r * Math.sin(a)).toFixed(1) }, gv);
      el('title', {}, c).textContent = t(`vote.${cls}`, { voter: v, pre: n.votes.pre ? t('vote.pre') : '' });
    });
  }

  /** The screen point of a member, for popovers. */
  screenPoint(id) {
    const p = this.pos[id];
    if (!p) return null;
    const pt = this.svg.createSVGPoint();
    pt.x = p.x;
    pt.y = p.y;
    const m = this.svg.getScreenCTM();
    return m ? pt.matrixTransform(m) : null;
  }
}
