// The legend: every message glyph with its name, and how members are drawn.

import { t } from '../i18n.js';
import { legendItems, glyphPath } from './messages.js';

const SVG = 'http://www.w3.org/2000/svg';

export function renderLegend(root) {
  const ul = document.createElement('ul');
  for (const it of legendItems()) {
    const li = document.createElement('li');
    li.dataset.type = it.type;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', '30');
    svg.setAttribute('height', '26');
    svg.setAttribute('viewBox', '-15 -13 30 26');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', `msg${it.glyph.resp ? ' resp' : ''}`);
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', glyphPath(it.glyph.shape));
    p.setAttribute('class', 'glyph');
    p.setAttribute('fill', it.glyph.color);
    p.setAttribute('transform', 'scale(0.8)');
    svg.appendChild(p);
    const tx = document.createElementNS(SVG, 'text');
    tx.setAttribute('class', 'tag');
    tx.textContent = it.glyph.tag;
    svg.appendChild(tx);
    li.append(svg, document.createTextNode(it.label));
    ul.appendChild(li);
  }
  const roles = document.createElement('p');
  roles.textContent = t('legend.roles');
  root.replaceChildren(ul, roles);
}
