// The new user's first session, through the UI only: code-server with the extension installed from
// the .vsix (no extensionDevelopmentPath), the server installed the way the README says, the standalone
// fake DeepSeek as deepseek.baseUrl. Playwright drives headless chromium like a person would: the
// command palette, Quick Open, the keyboard, clicks on CodeLens and in the webviews. Nothing here
// calls the extension's API; the checks read the screen (DOM), the files on disk and the fake's replies.
// Prints a PASS/FAIL line per step and writes {passes, failures} to NU_RESULT.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const HOST = process.env.CS_HOST;          // 127.0.0.1:PORT
const WS = process.env.CS_WS;              // the user's project folder
const FAKE = process.env.FAKE_URL;         // the fake DeepSeek the user started
const OUT = process.env.NU_RESULT;
const SHOTS = process.env.NU_SHOTS;        // where screenshots of failures go
const t0 = Date.now();
const results = [];
let page;

const sleep = ms => new Promise(r => setTimeout(r, ms));
const esc = s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const norm = s => (s || '').replace(/\u00a0/g, ' ');

async function until(what, f, ms = 20000, every = 100) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { const v = await f(); if (v) { return v; } } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? `: ${last.message || last}` : ''}`);
}

async function fake(pathname, body) {
  const res = await fetch(FAKE + pathname, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) { throw new Error(`${pathname}: HTTP ${res.status}`); }
}

async function step(name, fn) {
  const started = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    console.log(`  PASS new user: ${name}${detail ? ` (${detail})` : ''} [${((Date.now() - started) / 1000).toFixed(1)} s]`);
  } catch (e) {
    results.push({ name, ok: false });
    const shot = SHOTS ? path.join(SHOTS, `newuser-fail-${results.length}.png`) : '';
    if (shot) { await page.screenshot({ path: shot }).catch(() => {}); }
    console.log(`  FAIL new user: ${name}: ${String(e && e.message || e).split('\n').slice(0, 6).join('\n    ')}${shot ? ` (screenshot ${shot})` : ''}`);
  }
}

const quickInput = () => page.locator('.quick-input-widget');

/** F1, type the command's title, click the row whose label is exactly that title. */
async function runCommand(title, ms = 20000) {
  await until(`"${title}" in the command palette`, async () => {
    if (await quickInput().isVisible()) { await page.keyboard.press('Escape'); }
    await page.keyboard.press('F1');
    const input = quickInput().locator('input');
    await input.waitFor({ state: 'visible', timeout: 5000 });
    await input.fill('>' + title);
    const row = quickInput().locator('.monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${esc(title)}$`) }) }).first();
    try { await row.waitFor({ timeout: 3000 }); } catch (e) { await page.keyboard.press('Escape'); throw e; }
    await row.click();
    return true;
  }, ms, 300);
}

/** Quick Open (Ctrl+P) a file of the workspace; resolves when its editor shows the text. */
async function openFile(name, firstLine) {
  await page.keyboard.press('Control+P');
  const input = quickInput().locator('input');
  await input.waitFor({ state: 'visible', timeout: 5000 });
  await input.fill(name);
  await quickInput().locator('.monaco-list-row', { hasText: name }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
  await until(`${name} open in the editor`, async () =>
    (await page.locator('.tabs-container .tab.active', { hasText: name }).count()) > 0 &&
    norm(await editorText()).includes(firstLine));
}

/** The text the active editor group's code editor shows. */
async function editorText() {
  const lines = page.locator('.editor-group-container.active .monaco-editor .view-lines');
  return (await lines.count()) ? norm(await lines.first().innerText()) : '';
}

/** The innerText of `selector` in the first webview frame that has it ('' when none does). */
async function webviewText(selector, extra) {
  for (const frame of page.frames()) {
    const t = await frame.evaluate(([sel, ex]) => {
      const n = document.querySelector(sel);
      return n && (!ex || document.querySelector(ex)) ? n.innerText : null;
    }, [selector, extra || null]).catch(() => null);
    if (t !== null) { return { frame, text: norm(t) }; }
  }
  return { frame: null, text: '' };
}

/** Polls a webview until `done(text)`; returns the text and how long the view and its text took. */
async function watchWebview(what, selector, extra, done, ms = 30000) {
  let frameAt = 0;
  const started = Date.now();
  const text = await until(what, async () => {
    const { frame, text: t } = await webviewText(selector, extra);
    if (frame && !frameAt) { frameAt = Date.now() - started; }
    return done(t) ? t : undefined;
  }, ms, 50);
  return { text, timing: `view after ${frameAt} ms, all of it after ${Date.now() - started} ms` };
}

(async () => {
  if (SHOTS) { for (const f of fs.readdirSync(SHOTS)) { if (/^newuser-fail-\d+\.png$/.test(f)) { fs.unlinkSync(path.join(SHOTS, f)); } } }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.route(u => !/^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(u.href), r => r.abort());
  page = await ctx.newPage();
  await page.goto(`http://${HOST}/?folder=${encodeURIComponent(WS)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
  await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } }).catch(() => {});
  console.log(`  (workbench visible after ${((Date.now() - t0) / 1000).toFixed(1)} s)`);

  await step('the extension installed from the .vsix is there: "DeepSeek: Set API key" runs from the command palette and asks for the key', async () => {
    await runCommand('DeepSeek: Set API key', 60000);
    await until('the API key input box', async () =>
      (await quickInput().isVisible()) && /DeepSeek API Key/.test(await quickInput().innerText()), 20000);
    return `input box "${(await quickInput().locator('.quick-input-title').innerText().catch(() => '')).trim()}"`;
  });

  await step('the key typed into the input box (sk-fake) is checked against the fake and saved', async () => {
    const input = quickInput().locator('input');
    if ((await input.getAttribute('type')) !== 'password') { throw new Error('the key input is not a password box'); }
    await page.keyboard.type('sk-fake');
    await page.keyboard.press('Enter');
    await page.locator('.notifications-toasts .notification-list-item', { hasText: 'DeepSeek: API key saved.' }).first().waitFor({ timeout: 20000 });
    // the status bar item loses the "no key" warning once the restarted server has the key
    await until('the status bar item without the no-key warning', async () => {
      const item = page.locator('.statusbar-item', { hasText: 'DeepSeek' }).first();
      return (await item.count()) && !/warning|error/i.test(await item.getAttribute('class') || '') &&
        !/error/.test(await item.innerHTML());
    }, 20000);
    return 'toast "DeepSeek: API key saved."';
  });

  await step('Explain on a selection (command palette) streams the explanation into the explain panel', async () => {
    await openFile('area.py', 'import math');
    await page.keyboard.press('Control+A');
    const answer = 'Computes the **area** of a circle of radius `r`: pi times r squared. It uses `math.pi` from the ' +
      'standard library, so the result is a float. Negative radii are not rejected.';
    // the fake streams the first 10 pieces and holds the rest: the panel must show those words while the answer is open
    await fake('/_fake/enqueue', [{ content: answer, delay: 0.03, hold_after: 10 }]);
    await runCommand('DeepSeek: Explain');
    const final = 'Computes the area of a circle of radius r: pi times r squared. It uses math.pi from the standard library, so the result is a float. Negative radii are not rejected.';
    const partial = await until('the first words in the explain panel while the fake holds the rest', async () => {
      const { text } = await webviewText('#content', '#header');
      return text.startsWith('Computes the') && !text.includes('Negative radii') ? text : undefined;
    }, 30000);
    await fake('/_fake/release', {});
    const r = await watchWebview('the whole explanation in the explain panel', '#content', '#header', t => t.includes(final));
    const strong = await webviewText('#content strong', '#header');
    if (strong.text !== 'area') { throw new Error(`Markdown not rendered: <strong> is "${strong.text}"`); }
    return `"${partial.trim()}" while streaming, then the whole answer; ${r.timing} after the release`;
  });

  await step('Add docstring (command palette) rewrites the selection in the editor, Accept | Reject above it; clicking Reject restores the file exactly', async () => {
    const original = 'def mul(a, b):\n    return a * b\n\n\nprint(mul(2, 3))\n';
    await openFile('mul.py', 'def mul(a, b):');
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
    await fake('/_fake/enqueue', [{ content: 'def mul(a, b):\n    """Return the product of a and b."""\n    return a * b', delay: 0.05 }]);
    await runCommand('DeepSeek: Add docstring');
    await until('the docstring in the editor', async () => (await editorText()).includes('"""Return the product of a and b."""'), 30000);
    const reject = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Reject' }).first();
    await reject.waitFor({ timeout: 20000 });
    const accept = await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Accept' }).count();
    if (!accept) { throw new Error('no Accept CodeLens beside Reject'); }
    const changed = await editorText();
    if (!changed.includes('print(mul(2, 3))')) { throw new Error(`text outside the selection changed: ${changed}`); }
    if (fs.readFileSync(path.join(WS, 'mul.py'), 'utf8') !== original) { throw new Error('the file on disk changed before review'); }
    await reject.click();
    await until('the original text back in the editor', async () => {
      const t = await editorText();
      return !t.includes('Return the product') && t.includes('return a * b');
    }, 20000);
    await until('the CodeLens gone', async () => (await page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Reject' }).count()) === 0, 10000);
    // save (Ctrl+S) and compare the bytes on disk: Reject must put the original back exactly
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+S');
    await until('mul.py saved and identical to the original', async () =>
      (await page.locator('.tabs-container .tab.active.dirty').count()) === 0 && fs.readFileSync(path.join(WS, 'mul.py'), 'utf8') === original, 10000);
    return 'docstring shown, Reject clicked, saved file byte-identical';
  });

  await step('the chat view (Ctrl+Alt+K) streams the reply to a message typed into it', async () => {
    const reply = 'Hello from **DeepSeek**, the fake one. Here is some code for you:\n\n```python\nprint("hi")\n```\n\nAnything else?';
    await fake('/_fake/enqueue', [{ content: reply, delay: 0.03, hold_after: 8 }]);
    await page.keyboard.press('Control+Alt+KeyK');
    const chat = await until('the chat view with its input', async () => {
      for (const frame of page.frames()) {
        if (await frame.locator('textarea#input').isVisible().catch(() => false)) { return frame; }
      }
      return undefined;
    }, 30000);
    await chat.locator('textarea#input').click();
    await page.keyboard.type('Say hello');
    await page.keyboard.press('Enter');
    const partial = await until('the first words of the reply in the chat view while the fake holds the rest', async () => {
      const { text } = await webviewText('#turns', '#composer');
      return text.includes('Say hello') && text.includes('Hello from') && !text.includes('Anything else?') ? text : undefined;
    }, 30000);
    await fake('/_fake/release', {});
    await watchWebview('the whole reply in the chat view', '#turns', '#composer',
      t => t.includes('Hello from DeepSeek, the fake one.') && t.includes('print("hi")') && t.includes('Anything else?'));
    const usage = await until('usage under the turn', async () => {
      const u = await chat.locator('.turn.done .usage').last().innerText().catch(() => '');
      return u.trim() || undefined;
    }, 10000);
    if ((await chat.locator('.turn').last().locator('button.code-insert').count()) === 0) { throw new Error('no Insert button under the code block'); }
    return `"${partial.replace(/\s+/g, ' ').trim()}" while streaming, then the whole reply; usage "${usage.trim()}"`;
  });

  if (SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'newuser-final.png') }).catch(() => {}); }
  await browser.close().catch(() => {});
  const passes = results.filter(r => r.ok).length;
  fs.writeFileSync(OUT, JSON.stringify({ passes, failures: results.length - passes, seconds: (Date.now() - t0) / 1000 }));
  console.log(`  (new user UI session: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
})().catch(e => { console.error(e); process.exit(2); });
