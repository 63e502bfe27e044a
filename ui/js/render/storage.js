// Storage panel of the selected member: the seven raft keys, decoded.
// (Placeholder; the full panel follows.)

import { t } from '../i18n.js';

export function renderStorage(panel, state, view) {
  const n = state.nodes[view.selected];
  if (!n) { panel.textContent = ''; return; }
  const table = document.createElement('table');
  for (const [k, v] of Object.entries(n.keys)) {
    const tr = document.createElement('tr');
    tr.dataset.key = k;
    tr.innerHTML = '<td class="key"></td><td class="val"></td>';
    tr.children[0].textContent = k;
    tr.children[1].textContent = v.deleted ? '(deleted)' : JSON.stringify(v.value);
    table.appendChild(tr);
  }
  panel.replaceChildren(table);
}
