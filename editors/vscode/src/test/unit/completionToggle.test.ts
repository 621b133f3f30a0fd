import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { completionStatusView, toggleTarget } from '../../model/completionToggle';

test('the status bar item shows the setting: a check when on, a slash when off', () => {
  const on = completionStatusView(true, true);
  assert.equal(on.text, '$(check) DeepSeek');
  assert.match(on.tooltip, /inline completion is on/);
  assert.match(on.tooltip, /Click to turn it off/);
  const off = completionStatusView(false, true);
  assert.equal(off.text, '$(circle-slash) DeepSeek');
  assert.match(off.tooltip, /inline completion is off/);
  assert.match(off.tooltip, /Click to turn it on/);
  assert.equal(on.label, 'DeepSeek inline completion: on');
  assert.equal(off.label, 'DeepSeek inline completion: off');
});

test('a server without inline completion is named in the tooltip; no server, nothing said', () => {
  assert.match(completionStatusView(true, false).tooltip, /offers no inline completion/);
  assert.doesNotMatch(completionStatusView(true, undefined).tooltip, /offers no/);
  assert.doesNotMatch(completionStatusView(false, true).tooltip, /offers no/);
});

test('the toggle writes where the setting is set, so it takes effect; the user settings when unset', () => {
  assert.equal(toggleTarget(undefined), 'global');
  assert.equal(toggleTarget({}), 'global');
  assert.equal(toggleTarget({ globalValue: false }), 'global');
  assert.equal(toggleTarget({ globalValue: true, workspaceValue: false }), 'workspace');
  assert.equal(toggleTarget({ workspaceValue: true, workspaceFolderValue: false }), 'workspaceFolder');
  assert.equal(toggleTarget({ workspaceFolderValue: false }), 'workspaceFolder');
});
