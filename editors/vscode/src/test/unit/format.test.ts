import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatTokens, formatCost, cacheHitShare, usageLine, statusSummary, costWithRate, sessionCost } from '../../model/format';
import { renderMarkdown } from '../../model/markdown';
import { resolveServer, findOnPath } from '../../model/serverCommand';

test('numbers for people', () => {
  assert.equal(formatTokens(0), '0');
  assert.equal(formatTokens(950), '950');
  assert.equal(formatTokens(12345), '12.3k');
  assert.equal(formatTokens(2000), '2k');
  assert.equal(formatTokens(2_500_000), '2.5M');
  assert.equal(formatCost(0.00123), '$0.0012');
  assert.equal(formatCost(1.5), '$1.50');
  assert.equal(formatCost(0.00001), '<$0.0001');
  assert.equal(formatCost(0), '$0');
  assert.equal(cacheHitShare({ promptCacheHitTokens: 3, promptCacheMissTokens: 1 }), 0.75);
  assert.equal(cacheHitShare({ cacheHitShare: 0.5 }), 0.5);
  assert.equal(cacheHitShare({}), undefined);
  assert.equal(usageLine({ promptTokens: 1200, completionTokens: 40, promptCacheHitTokens: 900, promptCacheMissTokens: 300, cost: 0.0001 }),
    '1.2k in (75% cached) · 40 out · $0.0001');
  assert.equal(statusSummary({ promptTokens: 1000, completionTokens: 500, cacheHitShare: 0.8, cost: 0.02 }), '1.5k tok · 80% cache · $0.02');
  assert.equal(statusSummary(undefined), '');
});

test('markdown: rendered, raw HTML escaped, code blocks get buttons, bad links dropped', () => {
  const html = renderMarkdown('# Hi\n\n<script>alert(1)</script>\n\n```py\nprint("<b>")\n```\n\n[x](javascript:alert(1)) [y](https://e.x)', { codeActions: true });
  assert.match(html, /<h1>Hi<\/h1>/);
  assert.ok(!html.includes('<script>'));
  assert.match(html, /&lt;script&gt;/);
  assert.match(html, /<code class="language-py">print\(&quot;&lt;b&gt;&quot;\)<\/code>/);
  assert.match(html, /Apply to selection/);
  assert.ok(!html.includes('javascript:'));
  assert.match(html, /<a href="https:\/\/e.x">y<\/a>/);
  // an unfinished fence (mid-stream) still renders as code
  assert.match(renderMarkdown('text\n```js\nlet a'), /<code class="language-js">let a<\/code>/);
  assert.ok(!renderMarkdown('```\ncode\n```').includes('code-actions'));
});

test('server command: setting, python, PATH, and what is missing', () => {
  const exe = new Set(['/usr/bin/deepseek-lsp', '/venv/bin/python', '/opt/ds']);
  const isExe = (f: string) => exe.has(f);
  const env = { PATH: '/bin:/usr/bin', HOME: '/home/u' };
  assert.deepEqual(resolveServer({}, env, isExe), { command: '/usr/bin/deepseek-lsp', args: [], source: 'PATH' });
  assert.deepEqual(resolveServer({ path: '/opt/ds', args: ['--log-level', 'debug'] }, env, isExe),
    { command: '/opt/ds', args: ['--log-level', 'debug'], source: 'setting' });
  assert.deepEqual(resolveServer({ pythonPath: '${workspaceFolder}/bin/python' }, env, isExe, '/venv'),
    { command: '/venv/bin/python', args: ['-m', 'deepseek_lsp'], source: 'python' });
  const missing = resolveServer({}, { PATH: '/bin' }, isExe);
  assert.ok('error' in missing && /not found on PATH/.test(missing.error));
  const badSetting = resolveServer({ path: '~/nope' }, env, isExe);
  assert.ok('error' in badSetting && badSetting.error.includes('/home/u/nope'));
  assert.equal(findOnPath('deepseek-lsp', { PATH: 'C:\\x;C:\\bin', PATHEXT: '.EXE' }, f => f.endsWith('deepseek-lsp.EXE'), 'win32') !== undefined, true);
});

test('costs say which of the time-of-day rates applied', () => {
  assert.equal(costWithRate(0.0012, 'peak'), '$0.0012 (peak rate)');
  assert.equal(costWithRate(0.0006, 'off-peak'), '$0.0006 (off-peak rate)');
  assert.equal(costWithRate(0.0012, 'flat'), '$0.0012');
  assert.equal(costWithRate(0, 'unpriced'), 'cost unknown (no price for this model)');
  assert.equal(costWithRate(0.0012, undefined), '$0.0012');
  assert.equal(sessionCost({ cost: 0.003, byRate: { peak: { cost: 0.002 }, 'off-peak': { cost: 0.001 } } }),
    '$0.0030 ($0.0020 peak rate, $0.0010 off-peak rate)');
  assert.equal(sessionCost({ cost: 0.002, byRate: { peak: { cost: 0.002 } } }), '$0.0020 (peak rate)');
  assert.equal(sessionCost({ cost: 0.002 }), '$0.0020');
  assert.match(usageLine({ promptTokens: 10, completionTokens: 5, cost: 0.0012, rate: 'peak' }), /\$0\.0012 \(peak rate\)$/);
});

test('estimated usage and unknown prices are shown as such, never as $0', () => {
  const u = { promptTokens: 1200, completionTokens: 340, estimated: true, cost: null, rate: 'unpriced' };
  assert.equal(usageLine(u), '~1.2k in · ~340 out (estimated) · cost unknown (no price for this model)');
  assert.equal(statusSummary({ promptTokens: 2000, completionTokens: 400, estimatedRequests: 2, cost: null }), '~2.4k tok');
  assert.equal(costWithRate(null, 'flat'), 'cost unknown (no price for this model)');
});
