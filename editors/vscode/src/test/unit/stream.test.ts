import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { JobStore, JobStream } from '../../model/stream';

test('deltas join into the full text, reasoning kept apart', () => {
  const j = new JobStream('j1', 'explain', 0);
  j.push({ jobId: 'j1', seq: 0, state: 'streaming', done: false, context: { tokens: 10 } }, 0);
  j.push({ jobId: 'j1', seq: 1, reasoning: 'Let me ', done: false }, 1000);
  j.push({ jobId: 'j1', seq: 2, reasoning: 'think.', done: false }, 2000);
  assert.equal(j.thinking, true);
  j.push({ jobId: 'j1', seq: 3, content: 'Hello ', done: false }, 4200);
  j.push({ jobId: 'j1', seq: 4, content: 'world', done: true, state: 'done', finishReason: 'stop', usage: { promptTokens: 5 } }, 5000);
  assert.equal(j.content, 'Hello world');
  assert.equal(j.reasoning, 'Let me think.');
  assert.equal(j.thoughtSeconds(), 3);
  assert.equal(j.done, true);
  assert.equal(j.state, 'done');
  assert.equal(j.finishReason, 'stop');
  assert.deepEqual(j.usage, { promptTokens: 5 });
  assert.equal(j.context?.tokens, 10);
  assert.equal(j.running, false);
});

test('out-of-order notifications wait for the gap; duplicates are ignored', () => {
  const j = new JobStream('j2', 'chat');
  assert.equal(j.push({ jobId: 'j2', seq: 1, content: 'b' }), false);
  assert.equal(j.content, '');
  assert.equal(j.waiting, 1);
  assert.equal(j.push({ jobId: 'j2', seq: 0, content: 'a' }), true);
  assert.equal(j.content, 'ab');
  assert.equal(j.push({ jobId: 'j2', seq: 1, content: 'b' }), false);
  assert.equal(j.push({ jobId: 'j2', seq: 0, content: 'a' }), false);
  assert.equal(j.content, 'ab');
  assert.equal(j.waiting, 0);
});

test('review is not running and not done; failure keeps the error', () => {
  const j = new JobStream('j3', 'rewrite');
  j.push({ jobId: 'j3', seq: 0, state: 'streaming', range: { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } } });
  assert.equal(j.running, true);
  j.push({ jobId: 'j3', seq: 1, state: 'review', done: false });
  assert.equal(j.running, false);
  assert.equal(j.done, false);
  const f = new JobStream('j4', 'explain');
  f.push({ jobId: 'j4', seq: 0, done: true, error: { code: 'unauthorized', message: 'Set the key' } });
  assert.equal(f.state, 'failed');
  assert.equal(f.error?.code, 'unauthorized');
});

test('no reasoning: no thought time; reasoning only: time counts to the end', () => {
  const j = new JobStream('a', 'explain', 0);
  j.push({ jobId: 'a', seq: 0, content: 'x' }, 10);
  assert.equal(j.thoughtSeconds(), undefined);
  const k = new JobStream('b', 'explain', 0);
  k.push({ jobId: 'b', seq: 0, reasoning: 'r' }, 0);
  k.push({ jobId: 'b', seq: 1, done: true, state: 'cancelled' }, 400);
  assert.equal(k.thoughtSeconds(), 1);
  assert.equal(k.state, 'cancelled');
});

test('store: notifications before registration are kept; listeners see creation once', () => {
  const s = new JobStore();
  const seen: [string, boolean][] = [];
  s.onChange((j, created) => seen.push([j.jobId, created]));
  s.push({ jobId: 'j9', kind: 'chat', seq: 0, content: 'hi', sessionId: 's1' });
  const job = s.register('j9', 'chat');
  assert.equal(job.content, 'hi');
  assert.equal(job.sessionId, 's1');
  s.register('j10', 'explain');
  s.push({ jobId: 'j10', seq: 0, content: 'x' });
  assert.deepEqual(seen, [['j9', true], ['j10', true], ['j10', false]]);
  assert.deepEqual(s.running().map(j => j.jobId), ['j9', 'j10']);
  s.push({ jobId: 'j9', seq: 1, done: true, state: 'done' });
  assert.deepEqual(s.running().map(j => j.jobId), ['j10']);
  assert.equal(s.push({ seq: 0 } as never), undefined);
});

test('store: prune keeps running jobs and the newest finished ones', () => {
  const s = new JobStore();
  for (let i = 0; i < 5; i++) { s.push({ jobId: `j${i}`, seq: 0, done: i < 4 }); }
  s.prune(2);
  assert.deepEqual(s.all().map(j => j.jobId), ['j2', 'j3', 'j4']);
});

test('a job ended by the client ignores what comes later', () => {
  const s = new JobStore();
  const seen: string[] = [];
  s.onChange(j => seen.push(`${j.jobId}:${j.state}`));
  s.push({ jobId: 'j1', seq: 0, content: 'a' });
  s.push({ jobId: 'j1', seq: 2, content: 'c' }); // waits for seq 1
  s.end('j1', 'cancelled', { code: 'cancelled', message: 'server stopped' });
  s.push({ jobId: 'j1', seq: 1, content: 'b' });
  const j = s.get('j1')!;
  assert.equal(j.content, 'a');
  assert.equal(j.done, true);
  assert.equal(j.state, 'cancelled');
  assert.deepEqual(seen, ['j1:streaming', 'j1:cancelled']);
  s.end('j1', 'failed');
  assert.equal(j.state, 'cancelled');
});
