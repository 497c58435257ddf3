'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { Scheduler } = require(path.join(process.cwd(), 'src', 'scheduler.js'));

function filled(events) {
  const s = new Scheduler();
  for (const e of events) {
    assert.equal(s.add(e), true, `could not add ${JSON.stringify(e)}`);
  }
  return s;
}

test('an event inside or around another overlaps', () => {
  const s = filled([{ id: 'x', start: 100, end: 200 }]);
  assert.equal(s.add({ id: 'inside', start: 120, end: 130 }), false);
  assert.equal(s.add({ id: 'around', start: 50, end: 250 }), false);
  assert.equal(s.add({ id: 'same', start: 100, end: 200 }), false);
  assert.equal(s.list().length, 1);
});

test('remove frees the slot and reports whether it removed anything', () => {
  const s = filled([{ id: 'x', start: 100, end: 200 }]);
  assert.equal(s.remove('missing'), false);
  assert.equal(s.remove('x'), true);
  assert.equal(s.remove('x'), false);
  assert.equal(s.add({ id: 'y', start: 150, end: 160 }), true);
  assert.deepEqual(s.list(), [{ id: 'y', start: 150, end: 160 }]);
});

test('invalid times throw RangeError', () => {
  const s = new Scheduler();
  assert.throws(() => s.add({ id: 'a', start: 10, end: 10 }), RangeError);
  assert.throws(() => s.add({ id: 'b', start: 20, end: 10 }), RangeError);
  assert.throws(() => s.add({ id: 'c', start: -5, end: 10 }), RangeError);
  assert.throws(() => s.add({ id: 'd', start: 1.5, end: 10 }), RangeError);
  assert.throws(() => s.add({ id: 'e', start: '1', end: 10 }), RangeError);
  assert.deepEqual(s.list(), []);
});

test('a duplicate id throws even without overlap', () => {
  const s = filled([{ id: 'x', start: 100, end: 200 }]);
  assert.throws(() => s.add({ id: 'x', start: 500, end: 600 }), Error);
  assert.equal(s.list().length, 1);
});

test('list returns copies sorted by start then id', () => {
  const s = filled([
    { id: 'b', start: 300, end: 310 },
    { id: 'a', start: 0, end: 10 },
  ]);
  const first = s.list();
  first[0].start = 999;
  first.push({ id: 'zzz', start: 1, end: 2 });
  assert.deepEqual(s.list(), [
    { id: 'a', start: 0, end: 10 },
    { id: 'b', start: 300, end: 310 },
  ]);
});

test('nextFree handles starts inside events, exact fits and the open end', () => {
  const s = filled([
    { id: 'a', start: 540, end: 555 },
    { id: 'b', start: 560, end: 600 },
  ]);
  assert.equal(s.nextFree(5, 545), 555);
  assert.equal(s.nextFree(10, 700), 700);
  assert.equal(s.nextFree(6, 540), 600);
  assert.equal(s.nextFree(540), 0);
  assert.equal(s.nextFree(541), 600);
});

test('nextFree on an empty scheduler and with bad durations', () => {
  const s = new Scheduler();
  assert.equal(s.nextFree(60), 0);
  assert.equal(s.nextFree(60, 42), 42);
  assert.throws(() => s.nextFree(0), RangeError);
  assert.throws(() => s.nextFree(-10), RangeError);
  assert.throws(() => s.nextFree(2.5), RangeError);
});

test('nextFree ignores events that were added out of order', () => {
  const s = filled([
    { id: 'c', start: 200, end: 300 },
    { id: 'a', start: 0, end: 100 },
    { id: 'b', start: 110, end: 190 },
  ]);
  assert.equal(s.nextFree(10, 0), 100);
  assert.equal(s.nextFree(11, 0), 300);
});

test('many events', () => {
  const s = new Scheduler();
  for (let i = 0; i < 2000; i += 1) {
    assert.equal(s.add({ id: `e${i}`, start: i * 10, end: i * 10 + 9 }), true);
  }
  assert.equal(s.add({ id: 'clash', start: 15005, end: 15006 }), false);
  assert.equal(s.nextFree(1, 0), 9);
  assert.equal(s.nextFree(2, 0), 19999);
  assert.equal(s.list().length, 2000);
});
