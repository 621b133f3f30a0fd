// End-to-end: the real extension in a real VS Code (code-server), the real deepseek-lsp server, the
// standalone fake DeepSeek (its URL in DEEPSEEK_E2E_FAKE_URL, key sk-fake).
import * as assert from 'assert';
import * as vscode from 'vscode';
import * as path from 'path';
import * as fs from 'fs';
import type { DeepSeekApi } from '../../extension';
import type { JobStream } from '../../model/stream';

const FAKE = process.env.DEEPSEEK_E2E_FAKE_URL || 'http://127.0.0.1:18181';
const EXT_ID = 'deepseek-lsp.deepseek-lsp';

async function fake(pathname: string, body?: unknown): Promise<any> {
  const res = await fetch(FAKE + pathname, body === undefined ? {} : {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(res.ok, `${pathname}: HTTP ${res.status}`);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

async function waitFor<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 20000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try { const v = await f(); if (v) { return v; } } catch (e) { last = e; }
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}

function folder(): string {
  const f = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(f, 'a workspace folder is open');
  return f!;
}

async function openSample(name: string, text: string): Promise<vscode.TextEditor> {
  const uri = vscode.Uri.file(path.join(folder(), name));
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
  const doc = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
}

let api: DeepSeekApi;

suite('DeepSeek extension end to end', function () {
  this.timeout(60000);

  suiteSetup(async () => {
    await fake('/_fake/reset', {}).catch(() => undefined);
  });

  test('activates and starts deepseek-lsp', async () => {
    const ext = vscode.extensions.getExtension<DeepSeekApi>(EXT_ID);
    assert.ok(ext, `extension ${EXT_ID} is loaded`);
    api = await ext!.activate();
    await waitFor('server running', () => api.server.running).catch(e => { throw new Error(`${e.message}; lastError=${api.server.lastError}; resolved=${JSON.stringify(api.server.resolved)}`); });
    assert.ok(api.server.serverCommands.includes('deepseek.explain'), `server commands: ${api.server.serverCommands}`);
    const info = api.server.client?.initializeResult?.serverInfo;
    assert.match(`${info?.name}`, /deepseek/i);
    assert.match(vscode.version, /^1\.\d+/);
  });

  test('Set API Key: a wrong key is refused, sk-fake is checked against GET /models and reaches the server', async () => {
    const refused = await vscode.commands.executeCommand<boolean>('deepseek.setApiKey', 'sk-wrong');
    assert.strictEqual(refused, false);
    const saved = await vscode.commands.executeCommand<boolean>('deepseek.setApiKey', 'sk-fake');
    assert.strictEqual(saved, true);
    await waitFor('server restarted', () => api.server.running);
    const status = await api.server.request<{ apiKeySet: boolean; baseUrl: string }>('deepseek.status', {});
    assert.strictEqual(status.apiKeySet, true);
    assert.strictEqual(status.baseUrl, FAKE);
    assert.ok(!JSON.stringify(status).includes('sk-fake'), 'status never carries the key');
    const cfg = vscode.workspace.getConfiguration('deepseek');
    assert.strictEqual(cfg.get('apiKey'), undefined, 'the key is not in settings');
  });

  test('the LSP code actions reach the light bulb', async () => {
    const editor = await openSample('actions.py', 'def add(a, b):\n    return a + b\n');
    const range = new vscode.Range(0, 0, 1, 16);
    const actions = await waitFor('code actions', async () => {
      const a = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', editor.document.uri, range);
      return a?.some(x => x.title === 'DeepSeek: Explain') ? a : undefined;
    });
    const titles = actions.map(a => a.title);
    for (const t of ['DeepSeek: Explain', 'DeepSeek: Refactor', 'DeepSeek: Add docstring', 'DeepSeek: Write tests']) {
      assert.ok(titles.includes(t), `${t} in ${titles}`);
    }
    // Explain heads the menu: a quick fix by kind, the group VS Code lists first (not "More Actions...")
    const ours = actions.filter(a => a.title.startsWith('DeepSeek:'));
    assert.strictEqual(ours[0].title, 'DeepSeek: Explain', `${ours.map(a => a.title)}`);
    assert.ok(vscode.CodeActionKind.QuickFix.contains(ours[0].kind!), `Explain's kind: ${ours[0].kind?.value}`);
    // the palette names the same actions the same way
    const commands = (vscode.extensions.getExtension(EXT_ID)!.packageJSON.contributes.commands as { command: string; title: string }[]);
    const palette = new Map(commands.map(c => [c.command, `DeepSeek: ${c.title}`]));
    for (const [command, title] of [['deepseek.explainSelection', 'DeepSeek: Explain'], ['deepseek.refactorSelection', 'DeepSeek: Refactor'],
      ['deepseek.docstringSelection', 'DeepSeek: Add docstring'], ['deepseek.testsSelection', 'DeepSeek: Write tests']]) {
      assert.strictEqual(palette.get(command), title);
      assert.ok(titles.includes(title), `${title} in the light bulb: ${titles}`);
    }
    // running the light bulb's Explain (the server's own command) still streams into our panel
    const explainAction = actions.find(a => a.title === 'DeepSeek: Explain')!;
    await fake('/_fake/enqueue', [{ content: 'Adds two numbers.', delay: 0.01 }]);
    const result = await vscode.commands.executeCommand<{ jobId: string }>(explainAction.command!.command, ...(explainAction.command!.arguments ?? []));
    assert.ok(result?.jobId, 'the code action started a job');
    const shown = await waitFor('code action explanation in the panel', () =>
      api.explain.lastRendered?.jobId === result.jobId && api.explain.lastRendered.state === 'done' ? api.explain.lastRendered : undefined);
    assert.ok(shown.text.includes('Adds two numbers.'), shown.text);
  });

  test('Explain streams rendered Markdown into its panel, reasoning folded; the hover shows it afterwards', async () => {
    const editor = await openSample('explain.py', 'import math\n\ndef area(r):\n    return math.pi * r * r\n');
    editor.selection = new vscode.Selection(2, 0, 3, 27);
    const answer = 'This **computes** the area of a circle.\n\n```python\narea(2)\n```\n\nIt uses `math.pi`.';
    // a first, short explanation opens the panel (a webview takes a moment to load the first time)
    await fake('/_fake/enqueue', [{ content: 'warm-up', delay: 0 }]);
    const warm = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
    await waitFor('panel ready', () => api.explain.lastRendered?.jobId === warm.jobId && api.explain.lastRendered.state === 'done');
    await fake('/_fake/enqueue', [{ content: answer, reasoning: 'The user wants an explanation.', delay: 0.03, first_delay: 0.2 }]);
    const renders: { text: string; state: string }[] = [];
    const sub = api.explain.onDidRender(r => renders.push(r));
    try {
      const job = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
      assert.ok(job?.jobId, 'a job started');
      const done = await waitFor('explain rendered done', () =>
        api.explain.lastRendered?.jobId === job.jobId && api.explain.lastRendered.state === 'done' ? api.explain.lastRendered : undefined);
      assert.ok(done.text.includes('This computes the area of a circle.'), `panel shows: ${done.text}`);
      assert.ok(done.text.includes('area(2)'));
      assert.ok(done.reasoning.includes('The user wants an explanation.'), `reasoning: ${done.reasoning}`);
      assert.strictEqual(done.reasoningOpen, false, 'reasoning folded');
      assert.match(done.summary ?? '', /^Thought for \d+ s$/);
      assert.ok(renders.filter(r => r.state === 'streaming').length >= 1, `streamed (${renders.length} renders)`);
      assert.strictEqual(job.content, answer);
      assert.ok(job.thoughtSeconds() !== undefined, 'reasoning timed');
    } finally { sub.dispose(); }
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, new vscode.Position(2, 5));
    const text = hovers.flatMap(h => h.contents.map(c => typeof c === 'string' ? c : c.value)).join('\n').replace(/&nbsp;/g, ' ');
    assert.ok(text.includes('computes'), `hover: ${text}`);
  });

  test('a failed request shows what to do', async () => {
    const editor = await openSample('fail.py', 'x = 1\n');
    editor.selection = new vscode.Selection(0, 0, 0, 5);
    await fake('/_fake/enqueue', [{ status: 401 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
    await waitFor('failed', () => job.done, 20000);
    assert.strictEqual(job.state, 'failed');
    assert.strictEqual(job.error?.code, 'unauthorized');
    await waitFor('panel shows the failure', () => api.explain.lastRendered?.jobId === job.jobId && api.explain.lastRendered.state === 'failed');
  });

  test('Cancel stops a running job', async () => {
    const editor = await openSample('cancel.py', 'x = 1\ny = 2\n');
    editor.selection = new vscode.Selection(0, 0, 1, 5);
    await fake('/_fake/enqueue', [{ content: 'one two three four five six', delay: 0.05, hold_after: 2 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
    await waitFor('first text', () => job.content.length > 0);
    assert.ok(api.server.jobs.running().some(j => j.jobId === job.jobId));
    await vscode.commands.executeCommand('deepseek.cancelJob', job.jobId);
    await waitFor('cancelled', () => job.done);
    assert.strictEqual(job.state, 'cancelled');
    await fake('/_fake/release', {}).catch(() => undefined);
  });

  test('a rewrite streams into the document, waits for review, and Reject restores the original', async function () {
    if (!api.server.serverCommands.includes('deepseek.rewrite')) {
      (this.test as any).skipReason = 'the server has no deepseek.rewrite yet (issue 3)';
      this.skip();
    }
    const original = 'def mul(a, b):\n    return a*b\n\nprint(mul(2, 3))\n';
    const editor = await openSample('rewrite.py', original);
    editor.selection = new vscode.Selection(0, 0, 1, 14);
    const code = 'def multiply(a: int, b: int) -> int:\n    """Return the product."""\n    return a * b';
    await fake('/_fake/enqueue', [{ content: code, delay: 0.02 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.refactorSelection', 'add type hints');
    assert.ok(job?.jobId, 'a rewrite job started');
    await waitFor('review state', () => job.state === 'review' || job.done, 30000);
    assert.strictEqual(job.state, 'review', `state ${job.state} ${job.error?.message ?? ''}`);
    const changed = editor.document.getText();
    assert.ok(changed.includes('def multiply(a: int, b: int) -> int:'), `document: ${changed}`);
    assert.ok(changed.includes('print(mul(2, 3))'), 'text outside the region untouched');
    const drawn = api.rewrite.drawn.get(job.jobId);
    assert.ok(drawn && drawn.changedLines.length > 0, 'changed lines decorated');
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', editor.document.uri);
    const titles = lenses.map(l => l.command?.title ?? '');
    assert.ok(titles.some(t => t.includes('Accept')) && titles.some(t => t.includes('Reject')), `lenses: ${titles}`);
    // no "Writing…" spinner while Accept | Reject waits: the job's progress has ended, the status bar says review
    const progress = await waitFor('the rewrite\'s progress ended', () => {
      const p = api.server.progress.get(job.jobId);
      return p?.ended ? p : undefined;
    });
    assert.strictEqual(job.state, 'review', 'still in review when the progress ended');
    assert.match(api.status.item.text, /review/, api.status.item.text);
    assert.doesNotMatch(api.status.item.text, /sync~spin/, api.status.item.text);
    void progress;
    await vscode.commands.executeCommand('deepseek.rejectRewrite', job.jobId);
    await waitFor('rejected', () => job.done, 20000);
    await waitFor('original text back', () => editor.document.getText() === original, 10000);
    assert.strictEqual(job.state, 'cancelled', `state ${job.state}: ${JSON.stringify(job.error)}`);
  });

  test('a rewrite accepted stays', async function () {
    if (!api.server.serverCommands.includes('deepseek.rewrite')) {
      (this.test as any).skipReason = 'the server has no deepseek.rewrite yet (issue 3)';
      this.skip();
    }
    const editor = await openSample('accept.py', 'def f(x):\n    return x\n');
    editor.selection = new vscode.Selection(0, 0, 1, 12);
    await fake('/_fake/enqueue', [{ content: 'def f(x):\n    """Identity."""\n    return x', delay: 0.01 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.docstringSelection');
    await waitFor('review state', () => job.state === 'review' || job.done, 30000);
    await vscode.commands.executeCommand('deepseek.acceptRewrite', job.jobId);
    await waitFor('accepted', () => job.done, 20000);
    assert.strictEqual(job.state, 'done');
    assert.ok(editor.document.getText().includes('"""Identity."""'));
  });

  test('with auto-save on, a rewrite waiting for review stays off the disk; Accept saves it', async function () {
    if (!api.server.serverCommands.includes('deepseek.rewrite')) {
      (this.test as any).skipReason = 'the server has no deepseek.rewrite yet (issue 3)';
      this.skip();
    }
    const pyMode = () => vscode.workspace.getConfiguration('files', { languageId: 'python' }).get<string>('autoSave');
    await api.autoSave.sync(); // the rewrites before this one are over: auto-save is back
    assert.notStrictEqual(pyMode(), 'off', 'code-server auto-saves by default');
    const original = 'def twice(x):\n    return 2 * x\n';
    const editor = await openSample('autosave.py', original);
    const file = editor.document.uri.fsPath;
    editor.selection = new vscode.Selection(0, 0, 1, 16);
    const rewritten = 'def twice(x):\n    """Return x doubled."""\n    return 2 * x';
    await fake('/_fake/enqueue', [{ content: rewritten, delay: 0.01 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.docstringSelection');
    await waitFor('review state', () => job.state === 'review' || job.done, 30000);
    assert.strictEqual(job.state, 'review', `state ${job.state} ${job.error?.message ?? ''}`);
    assert.ok(editor.document.getText().includes('Return x doubled.'), 'the rewrite is in the editor');
    assert.strictEqual(pyMode(), 'off', 'auto-save off for Python files while the rewrite waits');
    // auto-save still works for other files: one edited now is saved after the delay, and by then an
    // auto-saved autosave.py would have been written too (its last edit came earlier)
    const other = await openSample('control.md', 'before\n');
    const saved = new Promise<void>(resolve => {
      const sub = vscode.workspace.onDidSaveTextDocument(d => { if (d.uri.fsPath === other.document.uri.fsPath) { sub.dispose(); resolve(); } });
    });
    await other.edit(e => e.insert(new vscode.Position(0, 0), 'after '));
    await saved;
    assert.strictEqual(fs.readFileSync(other.document.uri.fsPath, 'utf8'), 'after before\n', 'auto-save is on');
    assert.strictEqual(fs.readFileSync(file, 'utf8'), original, 'no unaccepted text on disk');
    assert.ok(editor.document.isDirty, 'the rewrite waits unsaved');
    await vscode.window.showTextDocument(editor.document, vscode.ViewColumn.One);
    await vscode.commands.executeCommand('deepseek.acceptRewrite', job.jobId);
    await waitFor('accepted', () => job.done, 20000);
    assert.strictEqual(job.state, 'done');
    await waitFor('auto-save back for Python files', () => pyMode() !== 'off', 10000);
    assert.strictEqual(vscode.workspace.getConfiguration('files', { languageId: 'python' }).inspect('autoSave')?.globalLanguageValue, undefined,
      'the user settings are as before');
    await waitFor('the accepted rewrite saved', () => fs.readFileSync(file, 'utf8').includes('Return x doubled.'), 10000);
  });

  test('a large request asks first, with the estimated tokens and cost; No sends nothing', async function () {
    const editor = await openSample('large.py', Array.from({ length: 40 }, (_, i) => `value_${i} = ${i} * 2  # a line of code`).join('\n') + '\n');
    editor.selection = new vscode.Selection(0, 0, 40, 0);
    const cfg = vscode.workspace.getConfiguration('deepseek');
    const ask = api.server.ask;
    try {
      await cfg.update('confirmAboveTokens', 50, vscode.ConfigurationTarget.Workspace);
      // does this server give estimates? (an older one runs the request instead: then there is nothing to confirm)
      const whole = { start: { line: 0, character: 0 }, end: { line: 40, character: 0 } };
      const probe = await waitFor('the server has the new threshold', async () => {
        const p = await api.server.request<Record<string, unknown>>('deepseek.explain', { uri: editor.document.uri.toString(), range: whole, dryRun: true });
        return typeof p.jobId === 'string' || p.confirmAboveTokens === 50 ? p : undefined;
      });
      if (typeof probe.jobId === 'string') {
        await waitFor('probe done', () => api.server.jobs.get(probe.jobId as string)?.done ?? true);
        (this.test as any).skipReason = 'the server has no dryRun estimates yet';
        this.skip();
      }
      const questions: { message: string; detail: string }[] = [];
      api.server.ask = async q => { questions.push(q); return false; };
      const before = api.server.jobs.all().length;
      const none = await vscode.commands.executeCommand<JobStream | undefined>('deepseek.explainSelection');
      assert.strictEqual(none, undefined, 'nothing started');
      assert.strictEqual(api.server.jobs.all().length, before, 'no job');
      assert.strictEqual(questions.length, 1, 'asked once');
      assert.match(questions[0].message, /^DeepSeek: Explain sends [\d,]+ tokens .*Send it\?$/, questions[0].message);
      if (probe.estimatedCost) { assert.match(questions[0].message, /at most \$/, 'the cost is shown'); }
      assert.match(questions[0].detail, /deepseek\.confirmAboveTokens/);
      api.server.ask = async q => { questions.push(q); return true; };
      await fake('/_fake/enqueue', [{ content: 'Sets forty values.', delay: 0 }]);
      const job = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
      assert.ok(job?.jobId, 'Send started it');
      await waitFor('explained', () => job.done, 20000);
      assert.strictEqual(job.content, 'Sets forty values.');
    } finally {
      api.server.ask = ask;
      await cfg.update('confirmAboveTokens', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('after kill -9 of the server mid-rewrite, Recover Interrupted Rewrites puts the original back', async function () {
    if (!api.server.serverCommands.includes('deepseek.recover')) {
      (this.test as any).skipReason = 'the server has no deepseek.recover yet (issue 11)';
      this.skip();
    }
    const original = 'def area(r):\n    return 3.14 * r * r\n\nprint(area(2))\n';
    const editor = await openSample('crash.py', original);
    editor.selection = new vscode.Selection(0, 0, 1, 23);
    await fake('/_fake/enqueue', [{ content: 'def area(r):\n    """The area."""\n    return math.pi * r ** 2', delay: 0.01, hold_after: 6 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.docstringSelection');
    assert.ok(job?.jobId, 'a rewrite job started');
    await waitFor('part of the rewrite in the document', () => editor.document.getText() !== original);
    const pid = api.server.client?.serverProcess?.pid;
    assert.ok(pid, 'the server process');
    process.kill(pid!, 'SIGKILL');
    await waitFor('the job ended with the server', () => job.done);
    assert.strictEqual(job.state, 'failed', 'not "cancelled": nobody verified the original');
    await fake('/_fake/release', {}).catch(() => undefined);
    await waitFor('a new server', () => api.server.running && api.server.client?.serverProcess?.pid !== pid, 30000);
    assert.notStrictEqual(editor.document.getText(), original, 'the half-done rewrite is still there');
    const results = await vscode.commands.executeCommand<{ status: string; uri: string }[]>('deepseek.recoverRewrites', 'all');
    assert.deepStrictEqual(results?.map(r => r.status), ['restored'], JSON.stringify(results));
    await waitFor('the original back', () => editor.document.getText() === original, 10000);
    assert.ok(api.recover.shown.some(r => r.severity === 'info' && r.text.includes('crash.py')), JSON.stringify(api.recover.shown));
    const again = await vscode.commands.executeCommand<unknown[]>('deepseek.recoverRewrites', 'all');
    assert.deepStrictEqual(again, [], 'the journal is empty');
  });

  test('the chat view gets a streamed reply, rendered, with usage', async function () {
    if (!api.server.serverCommands.includes('deepseek.chat')) {
      (this.test as any).skipReason = 'the server has no deepseek.chat yet (issue 4)';
      this.skip();
    }
    await vscode.commands.executeCommand('deepseek.newChat');
    await waitFor('chat view visible', () => api.chat.visible);
    const reply = 'Hello from **DeepSeek**.\n\n```js\nconsole.log(1)\n```';
    await fake('/_fake/enqueue', [{ content: reply, reasoning: 'Greeting.', delay: 0.02 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.openChat', 'Say hello');
    assert.ok(job?.jobId);
    await waitFor('reply done', () => job.done, 30000);
    assert.strictEqual(job.state, 'done', job.error?.message);
    assert.strictEqual(job.content, reply);
    const shown = await waitFor('chat rendered', () => {
      const t = api.chat.lastRendered?.turns.at(-1);
      return t && t.state === 'done' && t.text.includes('Hello from DeepSeek.') ? t : undefined;
    });
    assert.strictEqual(shown.user, 'Say hello');
    assert.ok(shown.text.includes('console.log(1)'));
    assert.ok(api.chat.sessionId, 'a session id');
    assert.ok(job.usage, 'usage for the turn');
    // the header names the session by its title, never by its id
    const history = await api.server.request<{ title?: string }>('deepseek.chat.history', { sessionId: api.chat.sessionId });
    assert.ok(history.title, 'the server titled the session');
    const header = await waitFor('the chat header', () => {
      const h = api.chat.lastRendered?.header;
      return h && h !== 'New chat' ? h : undefined;
    });
    assert.strictEqual(header, history.title);
    assert.ok(!header.includes(api.chat.sessionId!), header);
    // the session is listed and its history can be loaded
    const sessions = await api.server.request<{ sessions: { sessionId: string }[] }>('deepseek.chat.sessions', {});
    assert.ok(sessions.sessions.some(s => s.sessionId === api.chat.sessionId));
    await api.chat.load(api.chat.sessionId!);
    assert.strictEqual(api.chat.turns.length, 1);
  });

  test('the UI itself shows it: commands in the palette, the explanation and the chat reply in the webviews', async function () {
    const result = process.env.DEEPSEEK_E2E_RESULT;
    if (!result) { this.skip(); }

    // the panel shows the newest explanation: make it a known one
    const editor = await openSample('explain.py', 'import math\n\ndef area(r):\n    return math.pi * r * r\n');
    editor.selection = new vscode.Selection(2, 0, 3, 27);
    await fake('/_fake/enqueue', [{ content: 'This **computes** the area of a circle.', delay: 0.01 }]);
    const job = await vscode.commands.executeCommand<JobStream>('deepseek.explainSelection');
    await waitFor('explained', () => api.explain.lastRendered?.jobId === job.jobId && api.explain.lastRendered.state === 'done');
    const hasChat = api.server.serverCommands.includes('deepseek.chat');
    const target = await openSample('insert.js', '// code from the chat goes here\n');
    target.selection = new vscode.Selection(1, 0, 1, 0);
    fs.writeFileSync(result + '.ui-request', JSON.stringify({ explainText: 'computes the area of a circle', chatText: 'Hello from DeepSeek', clickInsert: hasChat }));
    const res = await waitFor('the driver looked at the UI', () => fs.existsSync(result + '.ui-response')
      ? JSON.parse(fs.readFileSync(result + '.ui-response', 'utf8')) : undefined, 40000);
    assert.ok(!res.error, res.error);
    for (const c of ['DeepSeek: Explain', 'DeepSeek: Refactor', 'DeepSeek: Add docstring', 'DeepSeek: Write tests', 'DeepSeek: Set API key', 'DeepSeek: Chat', 'DeepSeek: Toggle Inline Completion']) {
      assert.ok(res.palette.includes(c), `${c} in the palette: ${res.palette}`);
    }
    assert.ok(res.explainDom.includes('This computes the area of a circle.'), `explain panel DOM: ${res.explainDom}`);
    if (hasChat) {
      assert.ok(res.chatDom.includes('Hello from DeepSeek.'), `chat view DOM: ${res.chatDom}`);
      assert.ok(res.clicked, 'clicked Insert');
      await waitFor('code inserted into the editor', () => target.document.getText().includes('console.log(1)'), 10000);
    }
  });

  test('the status bar shows the session usage', async () => {
    await api.status.refresh();
    const text = api.status.item.text;
    assert.match(text, /DeepSeek/);
    assert.ok(api.status.status?.usage, 'usage from deepseek.status');
    assert.match(text, /tok · .*% cache · <?\$/, text);
    assert.match(api.status.balance ?? '', /\d/, `balance for the tooltip: ${api.status.balance}`);
  });
});

suite('DeepSeek server settings', () => {
  test('a missing server is reported clearly; changing deepseek.server.* restarts it', async () => {
    const cfg = () => vscode.workspace.getConfiguration('deepseek');
    const before = cfg().get<string>('server.path');
    try {
      await cfg().update('server.path', '/nonexistent/deepseek-lsp', vscode.ConfigurationTarget.Workspace);
      await waitFor('the missing server noticed', () => !api.server.running && api.server.lastError?.includes('/nonexistent/deepseek-lsp'));
      assert.match(api.server.lastError!, /not found/);
      assert.match(api.status.item.text, /error/);
    } finally {
      await cfg().update('server.path', before, vscode.ConfigurationTarget.Workspace);
    }
    await waitFor('server back after the setting changed', () => api.server.running, 30000);
    const status = await api.server.request<{ apiKeySet: boolean }>('deepseek.status', {});
    assert.strictEqual(status.apiKeySet, true, 'the key from SecretStorage again');
  });

  test('deepseek.server.pythonPath runs the server as python -m deepseek_lsp', async () => {
    const cfg = () => vscode.workspace.getConfiguration('deepseek');
    const before = cfg().get<string>('server.path')!;
    const python = path.join(path.dirname(before), 'python');
    try {
      await cfg().update('server.pythonPath', python, vscode.ConfigurationTarget.Workspace);
      await cfg().update('server.path', '', vscode.ConfigurationTarget.Workspace);
      await waitFor('server started through Python', () => api.server.running && api.server.resolved?.source === 'python', 30000);
      assert.deepStrictEqual(api.server.resolved?.args.slice(0, 2), ['-m', 'deepseek_lsp']);
      assert.ok(api.server.serverCommands.includes('deepseek.explain'));
    } finally {
      await cfg().update('server.path', before, vscode.ConfigurationTarget.Workspace);
      await cfg().update('server.pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await waitFor('back on deepseek.server.path', () => api.server.running && api.server.resolved?.source === 'setting', 30000);
  });
});

suite('DeepSeek keybindings', () => {
  test('no keybinding of ours is already taken by VS Code', async () => {
    await vscode.commands.executeCommand('workbench.action.openDefaultKeybindingsFile');
    const doc = await waitFor('default keybindings', () => vscode.window.activeTextEditor?.document.uri.toString().includes('keybindings') ? vscode.window.activeTextEditor.document : undefined);
    const text = doc.getText().split('\n').filter(l => !/^\s*\/\//.test(l)).join('\n');
    const defaults = JSON.parse(text) as { key: string; command: string; when?: string }[];
    await vscode.workspace.fs.writeFile(vscode.Uri.file(path.join(folder(), 'default-keybindings.json')), Buffer.from(JSON.stringify(defaults)));
    const ext = vscode.extensions.getExtension(EXT_ID)!;
    const ours = (ext.packageJSON.contributes.keybindings as { key: string; command: string }[]);
    const clashes: string[] = [];
    for (const k of ours) {
      for (const d of defaults) {
        if (d.key === k.key && !d.command.startsWith('deepseek.') && !d.command.startsWith('-')) { clashes.push(`${k.key}: ${k.command} vs ${d.command} (${d.when ?? ''})`); }
      }
    }
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    assert.deepStrictEqual(clashes, []);
  });
});
