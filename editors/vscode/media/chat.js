// Chat view: the extension posts the whole conversation state; we render it, keep folded/unfolded
// reasoning as the user left it, and send messages and code-block actions back.
(function () {
  const vscode = acquireVsCodeApi();
  const $ = id => document.getElementById(id);
  const openReasoning = new Set();
  const input = $('input');
  const saved = vscode.getState() || {};
  if (saved.draft) { input.value = saved.draft; }
  function send() {
    const text = input.value;
    if (!text.trim()) { return; }
    vscode.postMessage({ type: 'send', text, attach: $('attach').checked });
    input.value = ''; $('attach').checked = false; vscode.setState({ draft: '' });
  }
  $('composer').addEventListener('submit', e => { e.preventDefault(); send(); });
  input.addEventListener('keydown', e => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); } });
  input.addEventListener('input', () => vscode.setState({ draft: input.value }));
  $('stop').addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  document.addEventListener('click', e => {
    const t = e.target;
    if (!(t instanceof HTMLElement)) { return; }
    const block = t.closest('.code-block');
    const code = block ? block.querySelector('code').textContent : '';
    if (t.classList.contains('code-insert')) { vscode.postMessage({ type: 'insert', code }); }
    else if (t.classList.contains('code-apply')) { vscode.postMessage({ type: 'apply', code }); }
    else if (t.classList.contains('code-copy')) { vscode.postMessage({ type: 'copy', code }); }
    else if (t.classList.contains('set-key')) { e.preventDefault(); vscode.postMessage({ type: 'setKey' }); }
    else if (t.id === 'sessions') { e.preventDefault(); vscode.postMessage({ type: 'sessions' }); }
    else if (t.id === 'new-chat') { e.preventDefault(); vscode.postMessage({ type: 'new' }); }
  });
  document.addEventListener('toggle', e => {
    const d = e.target;
    if (d instanceof HTMLDetailsElement && d.dataset.turn) { if (d.open) { openReasoning.add(d.dataset.turn); } else { openReasoning.delete(d.dataset.turn); } }
  }, true);

  function el(tag, cls, html) { const n = document.createElement(tag); if (cls) { n.className = cls; } if (html !== undefined) { n.innerHTML = html; } return n; }

  window.addEventListener('message', ev => {
    const m = ev.data;
    if (m.type !== 'state') { return; }
    $('session').innerHTML = m.session + ' <a href="#" id="sessions" title="Sessions">sessions</a> · <a href="#" id="new-chat" title="New chat">new</a>';
    $('stop').hidden = !m.busy;
    const box = $('turns');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.textContent = '';
    for (const t of m.turns) {
      const turn = el('div', 'turn ' + t.state);
      if (t.userHtml) {
        const u = el('div', 'user', t.userHtml);
        if (t.attachments.length) { u.appendChild(el('div', 'muted attachments', t.attachments.join(', '))); }
        turn.appendChild(u);
      }
      const a = el('div', 'assistant');
      if (t.reasoningHtml) {
        const d = el('details', 'reasoning');
        d.dataset.turn = t.id;
        d.open = openReasoning.has(t.id);
        d.appendChild(el('summary', '', t.reasoningSummary));
        d.appendChild(el('div', 'reasoning-body', t.reasoningHtml));
        a.appendChild(d);
      }
      for (const n of t.notices) { a.appendChild(el('div', 'notice', n)); }
      a.appendChild(el('div', 'markdown content', t.contentHtml || (t.done ? '' : '<p class="muted">…</p>')));
      if (t.error) { a.appendChild(el('div', 'error', t.error + (t.errorCode === 'unauthorized' ? ' <a href="#" class="set-key">Set API key</a>' : ''))); }
      else if (t.state === 'cancelled') { a.appendChild(el('div', 'muted', 'Stopped.')); }
      if (t.usage) { a.appendChild(el('div', 'muted usage', t.usage)); }
      turn.appendChild(a);
      box.appendChild(turn);
    }
    if (atBottom) { box.scrollTop = box.scrollHeight; }
    vscode.postMessage({ type: 'rendered', turns: Array.from(box.querySelectorAll('.turn')).map((n, i) => ({
      user: m.turns[i].userHtml ? n.querySelector('.user').firstChild.textContent : '',
      text: n.querySelector('.content').innerText, state: m.turns[i].state })),
      header: $('session').firstChild ? $('session').firstChild.textContent : '' });
  });
  vscode.postMessage({ type: 'ready' });
}());
