// A small helper for building DOM: h('button', {text: 'Go', on: {click}}, ...kids).

/**
 * h creates an element with attributes (text sets its text, on its event
 * listeners) and children.
 */
export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}
