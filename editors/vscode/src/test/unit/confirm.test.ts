import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isDryRun, worthEstimating, needsConfirm, confirmMessage } from '../../model/confirm';

const COST = { prompt: 0.0038, replyAtMost: 0.0049, total: 0.0087, currency: 'USD', rate: 'off-peak', pricedAs: 'deepseek-flash' };

test('a dry run answer is told apart from a started job', () => {
  assert.equal(isDryRun({ dryRun: true, promptTokens: 25300, maxTokens: 8192, estimatedCost: COST, model: 'deepseek-flash' }), true);
  assert.equal(isDryRun({ jobId: 'j1' }), false, 'a server without dryRun started the job');
  assert.equal(isDryRun(undefined), false);
});

test('only requests that can come near the threshold are estimated; the server decides, 0 never asks', () => {
  assert.equal(worthEstimating(100, 8000), false);
  assert.equal(worthEstimating(16000, 8000), true);
  assert.equal(worthEstimating(1e6, 0), false);
  assert.equal(needsConfirm({ dryRun: true, promptTokens: 8001 }, 8000), true);
  assert.equal(needsConfirm({ dryRun: true, promptTokens: 8000 }, 8000), false);
  assert.equal(needsConfirm({ dryRun: true, promptTokens: 99999 }, 0), false);
  assert.equal(needsConfirm({ dryRun: true, promptTokens: 99999, confirm: false }, 10), false, "the server's verdict wins");
  assert.equal(needsConfirm({ dryRun: true, promptTokens: 0, confirm: false, error: { code: 'empty', message: 'nothing' } }, 10), false);
});

test('the question says tokens, model and cost in plain words', () => {
  const q = confirmMessage({ dryRun: true, promptTokens: 25300, maxTokens: 8192, estimatedCost: COST, model: 'deepseek-flash' }, 'Explain');
  assert.equal(q.message, 'DeepSeek: Explain sends 25,300 tokens to deepseek-flash, at most $0.0087 at the off-peak rate. Send it?');
  assert.match(q.detail, /up to 8,192 tokens/);
  assert.match(q.detail, /deepseek\.confirmAboveTokens/);
  assert.equal(confirmMessage({ dryRun: true, promptTokens: 9000, estimatedCost: null }, 'Chat').message, 'DeepSeek: Chat sends 9,000 tokens. Send it?');
  assert.equal(confirmMessage({ dryRun: true, promptTokens: 9000, estimatedCost: 0.02 }, 'Chat').message, 'DeepSeek: Chat sends 9,000 tokens, at most $0.02. Send it?');
});
