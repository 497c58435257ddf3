'use strict';

/**
 * Keeps the bookings of one room (reference solution).
 * Times are integer minutes; an event occupies [start, end).
 */
class Scheduler {
  constructor() {
    this.byId = new Map();
  }

  add(event) {
    const { id, start, end } = event;
    if (!Number.isInteger(start) || !Number.isInteger(end)) {
      throw new RangeError('start and end must be integers');
    }
    if (start < 0 || end <= start) {
      throw new RangeError('need 0 <= start < end');
    }
    if (this.byId.has(id)) {
      throw new Error(`an event with id ${id} already exists`);
    }
    for (const other of this.byId.values()) {
      if (start < other.end && other.start < end) {
        return false;
      }
    }
    this.byId.set(id, { id, start, end });
    return true;
  }

  remove(id) {
    return this.byId.delete(id);
  }

  list() {
    return [...this.byId.values()]
      .sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(({ id, start, end }) => ({ id, start, end }));
  }

  nextFree(duration, after = 0) {
    if (!Number.isInteger(duration) || duration <= 0) {
      throw new RangeError('duration must be a positive integer');
    }
    let t = after;
    for (const event of this.list()) {
      if (event.end <= t) {
        continue;
      }
      if (t + duration <= event.start) {
        return t;
      }
      t = Math.max(t, event.end);
    }
    return t;
  }
}

module.exports = { Scheduler };
