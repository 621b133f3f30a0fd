// Entry point VS Code calls inside the extension host (extensionTestsPath): runs the mocha suite and
// writes a result file, because the extension host's exit code does not tell failures apart.
import * as path from 'path';
import * as fs from 'fs';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const resultFile = process.env.DEEPSEEK_E2E_RESULT || '/tmp/deepseek-e2e-result.json';
  const grep = process.env.DEEPSEEK_E2E_GREP;
  const mocha = new Mocha({ ui: 'tdd', timeout: 60000, color: false, reporter: 'spec', ...(grep ? { grep } : {}) });
  for (const f of fs.readdirSync(__dirname).filter(f => f.endsWith('.test.js')).sort()) { mocha.addFile(path.resolve(__dirname, f)); }
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const runner = mocha.run(failures => {
      const stats = runner.stats;
      fs.writeFileSync(resultFile, JSON.stringify({
        passes: stats?.passes ?? 0, failures, pending: stats?.pending ?? 0, tests: stats?.tests ?? 0,
        seconds: (Date.now() - started) / 1000, log,
      }, null, 2));
      failures ? reject(new Error(`${failures} tests failed.`)) : resolve();
    });
    runner.on('pass', t => log.push(`PASS ${t.fullTitle()} (${t.duration ?? 0} ms)`));
    runner.on('fail', (t, e) => log.push(`FAIL ${t.fullTitle()}: ${e?.stack ?? e}`));
    runner.on('pending', t => log.push(`SKIP ${t.fullTitle()}${(t as unknown as { skipReason?: string }).skipReason ? ': ' + (t as unknown as { skipReason?: string }).skipReason : ''}`));
  });
}
