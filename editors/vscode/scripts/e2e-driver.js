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
  while (!fs.existsSync(RESULT) && Date.now() < deadline) { await new Promise(r => setTimeout(r, 200)); }
  if (SHOTS) { await page.screenshot({ path: path.join(SHOTS, 'e2e-final.png') }).catch(() => {}); }
  await browser.close().catch(() => {});
  if (!fs.existsSync(RESULT)) {
    console.log(`no result after ${el()}; browser console errors:\n${consoleErrors.slice(-20).join('\n')}`);
    process.exit(2);
  }
  console.log(`suite finished ${el()}`);
})().catch(e => { console.error(e); process.exit(2); });
