// The countdown to the server's deadline. The browser's clock may be off: the page carries the
// server's time when it was rendered, and the offset corrects every reading. Warnings fire once
// each at 10 and 5 minutes left; `expired` fires when the deadline passes.
import { Emitter } from "./events";

export interface TimerEvents {
  warning: number;
  expired: undefined;
}

export const WARNING_MINUTES = [10, 5];

export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number): string => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${two(minutes)}:${two(seconds)}`;
}

export class Countdown extends Emitter<TimerEvents> {
  private readonly offset: number;
  private deadline: number | null;
  private warned = new Set<number>();
  private expired = false;
  private handle: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly element: HTMLElement,
    deadline: string | null,
    serverNow: string | null,
  ) {
    super();
    const server = serverNow ? Date.parse(serverNow) : Number.NaN;
    this.offset = Number.isNaN(server) ? 0 : server - Date.now();
    this.deadline = deadline ? Date.parse(deadline) : null;
    // Warnings already past when the page opens are not repeated (a reload at 4 min left).
    const left = this.remaining();
    if (left !== null) for (const minutes of WARNING_MINUTES) if (left <= minutes * 60_000) this.warned.add(minutes);
    this.tick();
    this.handle = setInterval(() => this.tick(), 250);
  }

  /** A new deadline from the server (an extension): warnings re-arm for it. */
  setDeadline(deadline: string | null): void {
    const next = deadline ? Date.parse(deadline) : null;
    if (next === this.deadline) return;
    this.deadline = next;
    this.warned.clear();
    const left = this.remaining();
    if (left !== null) for (const minutes of WARNING_MINUTES) if (left <= minutes * 60_000) this.warned.add(minutes);
    this.tick();
  }

  remaining(): number | null {
    return this.deadline === null ? null : this.deadline - (Date.now() + this.offset);
  }

  /** The session ended (whatever the reason): the clock stops and says so. */
  finish(label: string): void {
    if (this.handle !== null) clearInterval(this.handle);
    this.handle = null;
    this.element.textContent = label;
    this.element.dataset.level = "ended";
  }

  private tick(): void {
    const left = this.remaining();
    if (left === null) {
      this.element.textContent = "No time limit";
      this.element.dataset.level = "none";
      return;
    }
    this.element.textContent = left > 0 ? formatRemaining(left) : "Time is up";
    this.element.dataset.level = left <= 5 * 60_000 ? "critical" : left <= 10 * 60_000 ? "warning" : "normal";
    for (const minutes of WARNING_MINUTES) {
      if (left <= minutes * 60_000 && left > 0 && !this.warned.has(minutes)) {
        this.warned.add(minutes);
        this.emit("warning", minutes);
      }
    }
    if (left <= 0 && !this.expired) {
      this.expired = true;
      this.emit("expired", undefined);
    }
  }
}
