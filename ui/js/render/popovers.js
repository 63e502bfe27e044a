// Popovers: a member's actions when it is clicked, and a message's fields
// (with drop and delay) when a message is clicked.

import { t } from '../i18n.js';
import { nodeIds } from '../model/state.js';

function button(label, onClick, attrs = {}) {
  const b = document.createElement('button');
  b.textContent = label;
  for (const [k, v] of Object.entries(attrs)) b.setAttribute(k, v);
  b.addEventListener('click', onClick);
  return b;
}

/** Places a popover near the page point of ev, inside its parent. */
function place(root, ev) {
  const parent = root.parentElement.getBoundingClientRect();
  let x = 20;
  let y = 20;
  if (ev && 'clientX' in ev && ev.clientX) {
    x = ev.clientX - parent.left + 12;
    y = ev.clientY - parent.top + 12;
  }
  root.hidden = false;
  const w = root.offsetWidth;
  const h = root.offsetHeight;
  root.style.left = `${Math.max(4, Math.min(x, parent.width - w - 4))}px`;
  root.style.top = `${Math.max(4, Math.min(y, parent.height - h - 4))}px`;
}

function closeOnOutside(root, onClose) {
  const handler = (ev) => {
    if (!root.hidden && !root.contains(ev.target) && !ev.target.closest?.('.node, .msg')) {
      root.hidden = true;
      onClose?.();
    }
  };
  document.addEventListener('pointerdown', handler);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !root.hidden) {
      root.hidden = true;
      onClose?.();
    }
  });
}

export class NodeMenu {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    closeOnOutside(root);
  }

  open(id, ev) {
    const app = this.app;
    const state = app.state();
    const n = state.nodes[id];
    if (!n) return;
    const live = app.mode === 'live';
    const act = (a) => { this.root.hidden = true; app.act(a); };
    const h = document.createElement('h3');
    h.textContent = t('menu.title', { id });
    const row1 = document.createElement('div');
    row1.className = 'buttons';
    if (!live) {
      row1.append(n.up
        ? button(t('act.crash'), () => act({ kind: 'crash', node: id }), { 'data-act': 'crash' })
        : button(t('act.restart'), () => act({ kind: 'restart', node: id }), { 'data-act': 'restart' }));
    }
    if (n.up) {
      row1.append(
        button(t('act.read'), () => act({ kind: 'read', node: id, key: app.controls.key() }), { 'data-act': 'read' }),
        button(t('act.put'), () => act({ kind: 'put', node: id, key: app.controls.key(), value: app.controls.value() }), { 'data-act': 'put' }),
        button(t('act.snapshot'), () => act({ kind: 'snapshot', node: id }), { 'data-act': 'snapshot' }),
      );
      if (!live) row1.append(button(t('act.campaign'), () => act({ kind: 'campaign', node: id }), { 'data-act': 'campaign' }));
    }
    const row2 = document.createElement('div');
    row2.className = 'buttons';
    const learner = (n.confState?.learners || []).includes(id) || Object.values(state.nodes).some((o) => (o.confState?.learners || []).includes(id));
    if (n.role !== 'leader' && n.up && !learner) row2.append(button(t('act.transfer'), () => act({ kind: 'transfer', peer: id }), { 'data-act': 'transfer' }));
    if (learner) row2.append(button(t('act.promote'), () => act({ kind: 'promote', peer: id }), { 'data-act': 'promote' }));
    row2.append(button(t('act.remove'), () => act({ kind: 'remove', peer: id }), { 'data-act': 'remove' }));
    const kids = [h, row1, row2];
    if (!live) {
      const row3 = document.createElement('div');
      row3.className = 'buttons';
      row3.append(button(t('act.partition'), () => act({ kind: 'partition', groups: [[id]] }), { 'data-act': 'partition' }));
      const cuts = state.network.cuts || [];
      for (const other of nodeIds(state)) {
        if (other === id || state.nodes[other].stopped) continue;
        const isCut = cuts.some(([a, b]) => a === id && b === other);
        row3.append(button(isCut ? `${t('act.uncut')} → n${other}` : t('menu.cutTo', { from: id, to: other }),
          () => act({ kind: isCut ? 'uncut' : 'cut', node: id, peer: other }), { 'data-act': isCut ? 'uncut' : 'cut', 'data-peer': other }));
      }
      kids.push(row3);
    }
    this.root.replaceChildren(...kids);
    place(this.root, ev);
    row1.querySelector('button')?.focus();
  }
}

export class MessageDetail {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.key = '';
    this.shown = '';
    closeOnOutside(root, () => { this.key = ''; app.selectedMsg = ''; });
  }

  open(key, ev) {
    this.key = key;
    this.shown = '';
    this.refresh(this.app.state());
    place(this.root, ev);
  }

  refresh(state) {
    if (!this.key || this.root.hidden && this.shown) return;
    const rec = state.messages[this.key];
    if (!rec) return;
    const sig = `${this.key}:${rec.status}`;
    if (sig === this.shown) return;
    this.shown = sig;
    const m = rec.msg;
    const h = document.createElement('h3');
    h.textContent = t('detail.title', { type: m.type, from: m.from, to: m.to });
    const dl = document.createElement('dl');
    const add = (k, v) => {
      if (v === undefined || v === null || v === '' || v === false) return;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = typeof v === 'object' ? JSON.stringify(v) : String(v);
      dl.append(dt, dd);
    };
    add('id', m.id);
    add('term', m.term);
    add('logTerm', m.logTerm);
    add('index', m.index);
    add('commit', m.commit);
    add('reject', m.reject);
    add('rejectHint', m.rejectHint);
    add('entries', m.entries?.map((e) => `${e.index}/${e.term}${e.data ? ' ' + e.data : ''}`).join(', '));
    add('snapshot', m.snapshot && `${m.snapshot.index}/${m.snapshot.term} voters ${m.snapshot.confState.voters.join(',')}`);
    add('size', `${m.size} B`);
    add('status', t(`detail.status.${rec.status}`, { reason: rec.reason }));
    const kids = [h, dl];
    if (rec.status === 'flying' && this.app.mode !== 'live') {
      const row = document.createElement('div');
      row.className = 'buttons';
      row.append(
        button(t('act.dropMsg'), () => { this.app.act({ kind: 'dropMsg', msgId: m.id }); }, { 'data-act': 'dropMsg' }),
        button(t('detail.delay'), () => { this.app.act({ kind: 'delayMsg', msgId: m.id, delayMs: 500 }); }, { 'data-act': 'delayMsg' }),
      );
      kids.push(row);
    }
    this.root.replaceChildren(...kids);
  }
}
