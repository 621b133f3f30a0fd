// Opens code-server in headless Debian chromium so that it starts an extension host that runs our
// extension under development and its mocha suite (extensionDevelopmentPath + extensionTestsPath).
// The browser is only the client that makes code-server start the extension host; the suite's
// result comes from the file index.ts writes. Only loopback traffic is allowed.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const HOST = process.env.CS_HOST;            // 127.0.0.1:PORT
const WS = process.env.CS_WS;                // folder to open
const EXT = process.env.EXT_DIR;             // extension under development
const RESULT = process.env.DEEPSEEK_E2E_RESULT;
const SHOTS = process.env.E2E_SHOTS;         // where to leave a screenshot
const TIMEOUT = Number(process.env.E2E_TIMEOUT_S || 300) * 1000;
const t0 = Date.now();
const el = () => ((Date.now() - t0) / 1000).toFixed(1) + 's';

async function uiChecks(page, want) {
  const out = { palette: [], explainDom: '', chatDom: '' };
  // 1. our commands in the command palette
  await page.locator('.monaco-workbench').click({ position: { x: 5, y: 300 } }).catch(() => {});
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await input.fill('>DeepSeek: ');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DeepSeek:' }).first().waitFor({ timeout: 10000 });
  out.palette = await page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
  await page.keyboard.press('Escape');
  if (SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'e2e-ui.png') }).catch(() => {}); }
  // 2. the webviews' DOM (each webview is an iframe inside an iframe)
  for (const frame of page.frames()) {
    const got = await frame.evaluate(() => ({
      explain: document.getElementById('content') && document.getElementById('header') ? document.getElementById('content').innerText : '',
      chat: document.getElementById('turns') ? document.getElementById('turns').innerText : '',
    })).catch(() => ({ explain: '', chat: '' }));
    if (got.explain && got.explain.includes(want.explainText)) { out.explainDom = got.explain; }
    if (got.chat && got.chat.includes(want.chatText)) {
      out.chatDom = got.chat;
      if (want.clickInsert) {
        // a real click on the "Insert" button under the reply's code block
        await frame.locator('.turn').last().locator('button.code-insert').first().click({ timeout: 5000 });
        out.clicked = true;
      }
    }
  }
  return out;
}

// Ghost text through the real UI: focus the editor of `want.file` (a click on its tab keeps the
// cursor where the suite put it), type `want.type` with real keys (VS Code then asks the inline
// completion providers by itself, triggerKind Automatic), wait until the ghost text is drawn and
// holds `want.expect`, then press the real Tab. Answers the ghost text seen.
async function ghostChecks(page, want) {
  const tab = page.locator('.tabs-container .tab', { hasText: want.file }).first();
  await tab.click({ timeout: 10000 });
  const editor = page.locator('.editor-instance .monaco-editor.focused');
  await editor.waitFor({ timeout: 10000 });
  await page.keyboard.type(want.type);
  const ghost = editor.locator('.ghost-text-decoration, .ghost-text-decoration-preview, .suggest-preview-text .ghost-text');
  await ghost.filter({ hasText: want.expect }).first().waitFor({ timeout: 15000 });
  const shown = (await ghost.allInnerTexts()).join('\n');
  if (SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'e2e-ghost.png') }).catch(() => {}); }
  await page.keyboard.press('Tab');
  await ghost.first().waitFor({ state: 'detached', timeout: 10000 });
  return { ghost: shown };
}

// The status bar item whose id ends with `want.id` (VS Code prefixes the extension's id): its
// accessible label, and with `want.click` a real click on it.
async function statusChecks(page, want) {
  const item = page.locator(`.statusbar-item[id$="${want.id}"]`).first();
  await item.waitFor({ timeout: 10000 });
  const before = await item.getAttribute('aria-label') ?? await item.innerText();
  if (want.click) { await item.locator('a, .statusbar-item-label').first().click({ timeout: 5000 }); }
  return { id: await item.getAttribute('id'), before };
}

(async () => {
  try { fs.unlinkSync(RESULT); } catch { /* none yet */ }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.route(u => !/^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(u.href), r => r.abort());
  const page = await ctx.newPage();
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') { consoleErrors.push(m.text()); } });
  const remote = p => `vscode-remote://${HOST}${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(EXT)],
    ['extensionTestsPath', remote(path.join(EXT, 'out/e2e/index.js'))],
    ['extensionEnvironment', process.env.EXT_ENV || '{}'],
  ]);
  await page.goto(`http://${HOST}/?folder=${encodeURIComponent(WS)}&payload=${encodeURIComponent(payload)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
  console.log(`workbench visible ${el()}`);
  const deadline = Date.now() + TIMEOUT;
  const uiRequest = RESULT + '.ui-request', uiResponse = RESULT + '.ui-response';
  const ghostRequest = RESULT + '.ghost-request', ghostResponse = RESULT + '.ghost-response';
  while (!fs.existsSync(RESULT) && Date.now() < deadline) {
    if (fs.existsSync(ghostRequest) && !fs.existsSync(ghostResponse)) {
      const want = JSON.parse(fs.readFileSync(ghostRequest, 'utf8'));
      const res = await (want.status ? statusChecks(page, want.status) : ghostChecks(page, want)).catch(e => ({ error: String(e && e.stack || e) }));
      if (res.error && SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'e2e-ghost-fail.png') }).catch(() => {}); }
      fs.writeFileSync(ghostResponse, JSON.stringify(res));
      console.log(`ghost text / status bar ${el()}: ${JSON.stringify(res).slice(0, 300)}`);
    }
    if (fs.existsSync(uiRequest) && !fs.existsSync(uiResponse)) {
      // the suite asks us to look at the UI itself: the command palette and the webviews' DOM
      const want = JSON.parse(fs.readFileSync(uiRequest, 'utf8'));
      const res = await uiChecks(page, want).catch(e => ({ error: String(e && e.stack || e) }));
      fs.writeFileSync(uiResponse, JSON.stringify(res));
      console.log(`ui checks ${el()}: ${JSON.stringify(res).slice(0, 300)}`);
    }
    await new Promise(r => setTimeout(r, 200));
  }
  if (SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'e2e-final.png') }).catch(() => {}); }
  await browser.close().catch(() => {});
  if (!fs.existsSync(RESULT)) {
    console.log(`no result after ${el()}; browser console errors:\n${consoleErrors.slice(-20).join('\n')}`);
    process.exit(2);
  }
  console.log(`suite finished ${el()}`);
})().catch(e => { console.error(e); process.exit(2); });
