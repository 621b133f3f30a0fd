// Bundles the extension (and its tests) with esbuild. `--unit` builds only the unit tests.
import * as esbuild from 'esbuild';
import { readdirSync } from 'fs';

const unit = process.argv.includes('--unit');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, logLevel: 'warning' };
const tests = dir => readdirSync(dir).filter(f => f.endsWith('.test.ts')).map(f => `${dir}/${f}`);

await esbuild.build({ ...common, entryPoints: tests('src/test/unit'), outdir: 'out/unit' });
if (!unit) {
  await esbuild.build({ ...common, entryPoints: ['src/extension.ts'], external: ['vscode'], outfile: 'out/extension.js', minify: process.argv.includes('--minify') });
  await esbuild.build({ ...common, entryPoints: ['src/test/e2e/index.ts', ...tests('src/test/e2e')], external: ['vscode', 'mocha'], outdir: 'out/e2e' });
}
