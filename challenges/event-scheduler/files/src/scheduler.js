'use strict';

/**
 * Keeps the bookings of one room. See README.md for the full statement.
 * Times are integer minutes; an event occupies [start, end).
 */
class Scheduler {
  constructor() {
    this.events = [];
  }

  /** Add { id, start, end }; return false if it overlaps an existing event. */
  add(event) {
    // TODO: validate the event and refuse overlaps.
    this.events.push(event);
    return true;
  }

  /** Remove the event with this id; return whether there was one. */
  remove(id) {
    throw new Error('remove() is not implemented yet');
  }

  /** Every event sorted by start (ties by id), as copies. */
  list() {
    return this.events;
  }

  /** Earliest t >= after such that [t, t + duration) is free. */
  nextFree(duration, after = 0) {
    throw new Error('nextFree() is not implemented yet');
  }
}

module.exports = { Scheduler };
