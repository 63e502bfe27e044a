// Small DOM helpers: h builds an element; setText, setAttr and setStyle write
// a value only when it changed, because any write, the same value included,
// makes the browser restyle and lay out again (the panels and the cluster
// are redrawn on every frame while playing).

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

/** Sets el's text only when it changed. */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets an attribute only when it changed. */
export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== String(value)) el.setAttribute(name, value);
}

/**
 * Sets a style property only when it changed. The style reads back
 * normalized (#fff as rgb(255, 255, 255)), so it compares with what was
 * written.
 */
export function setStyle(el, prop, value) {
  const was = (el.__style ??= {});
  if (was[prop] !== value) {
    was[prop] = value;
    el.style[prop] = value;
  }
}
