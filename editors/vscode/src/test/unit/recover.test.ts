import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  MessageDedupe, RecoverEntry, failureText, fileName, formatStarted, lostOriginalReport, parseRecoverResult, pickItem,
  resultReport, shortTitle, summary, warningLensTitle, warningsReport,
} from '../../model/recover';
import { JobStream } from '../../model/stream';

const range = (l1: number, c1: number, l2: number, c2: number) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });

function entry(over: Partial<RecoverEntry> = {}): RecoverEntry {
  return {
    id: 'e1', uri: 'file:///work/src/geo%20x.py', range: range(3, 0, 4, 24), original: 'def area(r):\n    return 3.14 * r * r',
    title: 'DeepSeek: Add docstring', startedAt: new Date(2025, 4, 6, 14, 3).toISOString(), status: 'pending', message: '',
    ...over,
  };
}

test('a recover result is read defensively: malformed entries are dropped, unknown statuses count as failed', () => {
  const good = entry();
  const parsed = parseRecoverResult({ entries: [
    good,
    { ...good, id: 'e2', status: 'exploded' },
    { ...good, id: 'e3', range: { start: { line: 1 } } },
    { id: 'e4', uri: good.uri },
    null,
    { ...good, id: 'e5', title: 3, startedAt: undefined, message: undefined },
  ] });
  assert.deepEqual(parsed.map(e => e.id), ['e1', 'e2', 'e5']);
  assert.equal(parsed[1].status, 'failed');
  assert.equal(parsed[2].title, 'DeepSeek rewrite');
  assert.equal(parsed[2].message, '');
  assert.deepEqual(parseRecoverResult(undefined), []);
  assert.deepEqual(parseRecoverResult({ entries: 'no' }), []);
  assert.deepEqual(parseRecoverResult(null), []);
});

test('file names and titles for people', () => {
  assert.equal(fileName('file:///work/src/geo%20x.py'), 'geo x.py');
  assert.equal(fileName('untitled:Untitled-1'), 'untitled:Untitled-1');
  assert.equal(shortTitle('DeepSeek: Add docstring'), 'Add docstring');
  assert.equal(shortTitle('My action'), 'My action');
});

test('the start time reads as today, yesterday or a date, in local time', () => {
  const now = new Date(2025, 4, 6, 18, 0);
  assert.equal(formatStarted(new Date(2025, 4, 6, 14, 3).toISOString(), now), 'today 14:03');
  assert.equal(formatStarted(new Date(2025, 4, 5, 9, 7).toISOString(), now), 'yesterday 09:07');
  assert.equal(formatStarted(new Date(2025, 0, 2, 23, 59).toISOString(), now), '2025-01-02 23:59');
  assert.equal(formatStarted(new Date(2025, 3, 30, 8, 0).toISOString(), new Date(2025, 4, 1, 1, 0)), 'yesterday 08:00');
  assert.equal(formatStarted('not a date', now), 'not a date');
  assert.equal(formatStarted('', now), 'unknown time');
});

test('a QuickPick row: file:line, the title, when it started, checked by default', () => {
  const now = new Date(2025, 4, 6, 18, 0);
  const item = pickItem(entry(), u => `src/${fileName(u)}`, now);
  assert.deepEqual(item, {
    label: 'src/geo x.py:4', description: 'Add docstring', detail: 'started today 14:03 · original: 2 lines', picked: true, id: 'e1',
  });
  assert.match(pickItem(entry({ original: 'x = 1\n' }), fileName, now).detail, /original: 1 line$/);
  assert.match(pickItem(entry({ original: '' }), fileName, now).detail, /original: 0 lines$/);
});

test('each result says what happened; conflict and failed offer the original', () => {
  const restored = resultReport(entry({ status: 'restored', message: 'The original code is back.' }));
  assert.deepEqual(restored, { severity: 'info', text: 'DeepSeek: geo x.py:4 (Add docstring): The original code is back.', offerOriginal: false });
  // a message that names the place already is not prefixed a second time
  const named = resultReport(entry({ status: 'restored', message: 'geo x.py:4: the original code is back (DeepSeek: Add docstring).' }));
  assert.equal(named.text, 'DeepSeek: geo x.py:4: the original code is back (DeepSeek: Add docstring).');
  const unchanged = resultReport(entry({ status: 'unchanged' }));
  assert.equal(unchanged.severity, 'info');
  assert.match(unchanged.text, /already holds the original/);
  const conflict = resultReport(entry({ status: 'conflict', message: 'The region was edited since.' }));
  assert.equal(conflict.severity, 'warning');
  assert.equal(conflict.offerOriginal, true);
  assert.match(conflict.text, /The region was edited since\. Open or copy the original/);
  const failed = resultReport(entry({ status: 'failed' }));
  assert.equal(failed.severity, 'error');
  assert.equal(failed.offerOriginal, true);
  assert.match(failed.text, /could not be put back/);
  assert.equal(summary([entry({ status: 'restored' }), entry({ status: 'conflict' }), entry({ status: 'restored' })]), '2 restored, 1 conflict');
  assert.equal(summary([]), '');
});

test('a lost original is reported only when the document does not hold it', () => {
  const job = new JobStream('j1', 'rewrite', 0);
  job.push({ jobId: 'j1', seq: 0, state: 'streaming', uri: 'file:///w/geo.py', range: range(3, 0, 4, 24) });
  assert.equal(lostOriginalReport(job, 'x'), undefined); // not done yet
  job.push({ jobId: 'j1', seq: 1, done: true, state: 'failed', range: range(3, 0, 5, 2),
    error: { code: 'restore_failed', message: 'The editor refused to put the original back' }, original: 'def area(r): ...' });
  assert.equal(job.original, 'def area(r): ...');
  assert.equal(job.state, 'failed');
  const report = lostOriginalReport(job, 'def area(r):\n    """Doc."""');
  assert.ok(report);
  assert.equal(report.severity, 'error');
  assert.equal(report.offerOriginal, true);
  assert.equal(report.text, 'DeepSeek: The editor refused to put the original back. (geo.py:4: Open Original / Copy Original.)');
  assert.ok(lostOriginalReport(job, undefined), 'a closed document: still offered');
  assert.equal(lostOriginalReport(job, 'def area(r): ...'), undefined, 'the document holds it after all');
  const plain = new JobStream('j2', 'rewrite', 0);
  plain.push({ jobId: 'j2', seq: 0, done: true, state: 'cancelled' });
  assert.equal(lostOriginalReport(plain, 'anything'), undefined, 'no original: nothing to offer');
});

test("the server's failure message without the original it quotes", () => {
  const original = 'def size(self):\n    return len(self.items)\n';
  const message = `DeepSeek: the rewrite was cancelled, but its original code could not be put back (the editor did not apply the edit). Your original code was:\n${original}\n The original is kept: run "DeepSeek: Recover Interrupted Rewrites" to put it back.`;
  assert.equal(failureText(message, original),
    'the rewrite was cancelled, but its original code could not be put back (the editor did not apply the edit). The original is kept: run "DeepSeek: Recover Interrupted Rewrites" to put it back.');
  const long = 'x = 1\n'.repeat(500);
  assert.equal(failureText(`Lost. Your original code was:\n${long.slice(0, 2000)}\n…\nRun recover.`, long), 'Lost. Run recover.');
  assert.equal(failureText('DeepSeek: plain failure', 'y'), 'plain failure');
  assert.equal(failureText(undefined, 'y'), '');
});

test('warnings: kept on the job, on the CodeLens and in the message', () => {
  const job = new JobStream('j3', 'rewrite', 0);
  job.push({ jobId: 'j3', seq: 0, state: 'streaming' });
  assert.deepEqual(job.warnings, []);
  job.push({ jobId: 'j3', seq: 1, state: 'review', warnings: ['line 5: syntax error (the original had none)', 7 as unknown as string, 'line 9: unclosed ('] });
  assert.deepEqual(job.warnings, ['line 5: syntax error (the original had none)', 'line 9: unclosed (']);
  assert.equal(job.state, 'review');
  assert.equal(job.running, false);
  assert.equal(warningLensTitle(job.warnings), '$(warning) line 5: syntax error (the original had none) (+1 more)');
  assert.equal(warningLensTitle(['x'.repeat(100)], 10), '$(warning) xxxxxxxxx…');
  assert.equal(warningLensTitle([]), '');
  assert.equal(warningsReport(['a', 'b'], 'geo.py:4'), 'DeepSeek: check the rewrite of geo.py:4 before you accept it: a; b');
});

test("the server's showMessage about a failure already reported is silenced once, within the window", () => {
  const d = new MessageDedupe(1000);
  d.cover('The editor refused to put the original back', 0);
  d.cover(undefined, 0);
  d.cover('   ', 0);
  assert.equal(d.take('DeepSeek rewrite failed: something else', 10), false);
  assert.equal(d.take('DeepSeek rewrite failed: The editor refused to put the original back', 10), true);
  assert.equal(d.take('DeepSeek rewrite failed: The editor refused to put the original back', 20), false, 'only once');
  d.cover('late', 0);
  assert.equal(d.take('late', 2000), false, 'outside the window');
});
