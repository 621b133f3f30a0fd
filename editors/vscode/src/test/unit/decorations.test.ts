import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { changedLineIndices, regionDecorations, splitLines } from '../../model/decorations';

test('splitLines splits like LSP', () => {
  assert.deepEqual(splitLines('a\r\nb\nc\rd'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(splitLines(''), ['']);
});

test('changed lines: insertions and edits, unchanged lines kept', () => {
  const before = ['def f(x):', '    return x+1'];
  const now = ['def f(x):', '    """Add one."""', '    return x + 1'];
  assert.deepEqual(changedLineIndices(before, now), [1, 2]);
  assert.deepEqual(changedLineIndices(before, before), []);
  assert.deepEqual(changedLineIndices([], ['a']), [0]);
  assert.deepEqual(changedLineIndices(['a  '], ['a']), []); // trailing whitespace ignored
});

test('changed lines fall back to positions past the size limit', () => {
  assert.deepEqual(changedLineIndices(['a', 'b', 'c'], ['a', 'x', 'c', 'd'], 1), [1, 3]);
});

test('streaming region: partial last line is changed and carries the marker', () => {
  const d = regionDecorations('def f(x):\n    return x+1\n', 'def f(x):\n    """Add', { line: 10, character: 0 }, true);
  assert.deepEqual(d.changedLines, [11]);
  assert.deepEqual(d.marker, { line: 11, character: 10 });
  assert.equal(d.firstLine, 10);
  assert.equal(d.lastLine, 11);
});

test('streaming on one line keeps the start column', () => {
  const d = regionDecorations('x = 1', 'x = ', { line: 3, character: 4 }, true);
  assert.deepEqual(d.marker, { line: 3, character: 8 });
});

test('review region: no marker, only real changes, trailing newline not a line', () => {
  const d = regionDecorations('a\nb\n', 'a\nB\nc\n', { line: 0, character: 0 }, false);
  assert.deepEqual(d.changedLines, [1, 2]);
  assert.equal(d.marker, null);
  assert.equal(d.lastLine, 2);
});

test('empty region while streaming: marker at the start, nothing changed', () => {
  const d = regionDecorations('a\n', '', { line: 5, character: 2 }, true);
  assert.deepEqual(d.changedLines, []);
  assert.deepEqual(d.marker, { line: 5, character: 2 });
});

import { coalescedSpan, applyChanges } from '../../model/coalesce';

test('several minimal changes coalesce into one equivalent change', () => {
  const old = 'def mul(a, b):\n    return a*b\n';
  // VS Code-style: descending, old coordinates
  const changes = [
    { rangeOffset: 26, rangeLength: 3, text: '"' },
    { rangeOffset: 19, rangeLength: 6, text: '' },
    { rangeOffset: 7, rangeLength: 0, text: 'tiply' },
  ];
  const now = applyChanges(old, changes);
  const span = coalescedSpan(changes);
  const single = old.slice(0, span.start) + now.slice(span.start, span.start + span.newLength) + old.slice(span.end);
  assert.equal(single, now);
  assert.equal(span.start, 7);
  assert.equal(span.end, 29);
});
