'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { Scheduler } = require(path.join(process.cwd(), 'src', 'scheduler.js'));

test('adds events that do not overlap', () => {
  const s = new Scheduler();
  assert.equal(s.add({ id: 'standup', start: 540, end: 555 }), true);
  assert.equal(s.add({ id: 'lunch', start: 720, end: 780 }), true);
});

test('refuses an overlapping event', () => {
  const s = new Scheduler();
  s.add({ id: 'standup', start: 540, end: 555 });
  assert.equal(s.add({ id: 'review', start: 550, end: 600 }), false);
  assert.deepEqual(s.list().map((e) => e.id), ['standup']);
});

test('events that only touch do not overlap', () => {
  const s = new Scheduler();
  assert.equal(s.add({ id: 'a', start: 600, end: 660 }), true);
  assert.equal(s.add({ id: 'b', start: 660, end: 720 }), true);
  assert.equal(s.add({ id: 'c', start: 540, end: 600 }), true);
});

test('list is sorted by start', () => {
  const s = new Scheduler();
  s.add({ id: 'late', start: 900, end: 960 });
  s.add({ id: 'early', start: 480, end: 500 });
  s.add({ id: 'middle', start: 600, end: 630 });
  assert.deepEqual(s.list(), [
    { id: 'early', start: 480, end: 500 },
    { id: 'middle', start: 600, end: 630 },
    { id: 'late', start: 900, end: 960 },
  ]);
});

test('nextFree finds the first gap', () => {
  const s = new Scheduler();
  s.add({ id: 'a', start: 540, end: 555 });
  s.add({ id: 'b', start: 560, end: 600 });
  assert.equal(s.nextFree(30, 500), 500);
  assert.equal(s.nextFree(30, 530), 600);
});
