// The Ready pipeline of the selected member. (Placeholder.)
export function renderReady(panel, state, view) {
  const n = state.nodes[view.selected];
  panel.textContent = n && n.ready ? JSON.stringify(n.ready.info) : '';
}
