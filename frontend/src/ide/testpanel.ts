// The test panel: the challenge's visible tests over the agent's `/tests/stream` WebSocket.
//
// client -> agent: {"type": "start", "which": "visible"}
// agent -> client: {"type": "started"}, {"type": "result", name, outcome, duration_seconds,
//                  message, output} per test, {"type": "summary", ...counts, results},
//                  {"type": "error", "code", "message"}
// Closing the socket stops the run. GET /tests/last answers the latest visible run, so a
// reopened tab or another participant starts from the results everyone last saw.
import "./testpanel.css";

import { type IdeConfig, agentSocketUrl, agentUrl } from "./config";
import { Emitter } from "./events";
import { requestJson } from "./http";

export type TestState = "idle" | "running";

export interface TestSummary {
  which: "visible" | "hidden";
  /** passed: every test passed; failed; error: no trustworthy report (`detail` says why). */
  status: "passed" | "failed" | "error";
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  duration_ms: number;
  reason: string;
  exit_code: number | null;
  detail: string;
  stdout: string;
  stderr: string;
}

export interface TestResult {
  name: string;
  outcome: "passed" | "failed" | "skipped" | "error" | string;
  duration_seconds: number | null;
  message: string | null;
  output: string | null;
}

interface LastRun {
  summary: TestSummary | null;
  results?: TestResult[];
  finished_at?: number;
}

const OUTCOMES: Record<string, { symbol: string; word: string }> = {
  passed: { symbol: "✓", word: "passed" },
  failed: { symbol: "✗", word: "failed" },
  skipped: { symbol: "○", word: "skipped" },
  error: { symbol: "!", word: "error" },
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function duration(secondsTaken: number | null | undefined): string {
  if (typeof secondsTaken !== "number") return "";
  if (secondsTaken < 1) return `${Math.max(0, Math.round(secondsTaken * 1000))} ms`;
  return `${secondsTaken.toFixed(2)} s`;
}

function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** "3 passed, 2 failed in 0.4 s" (counts that are zero are left out). */
export function summaryText(summary: TestSummary): string {
  const parts: string[] = [];
  if (summary.passed) parts.push(`${summary.passed} passed`);
  if (summary.failed) parts.push(`${summary.failed} failed`);
  if (summary.skipped) parts.push(`${summary.skipped} skipped`);
  if (summary.errors) parts.push(plural(summary.errors, "error"));
  const took = `${(summary.duration_ms / 1000).toFixed(1)} s`;
  const counts = parts.length ? `${parts.join(", ")} in ${took}` : `No test results in ${took}`;
  return summary.status === "error" ? `Error: ${summary.detail}. ${counts}` : counts;
}

export class TestPanel extends Emitter<{ state: TestState; summary: TestSummary }> {
  private readonly root: HTMLElement;
  private readonly summaryLine: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly extra: HTMLElement;
  private socket: WebSocket | null = null;
  private state: TestState = "idle";
  private finished = false;
  private counts = { passed: 0, failed: 0, skipped: 0, error: 0 };
  private rows = new Map<string, HTMLLIElement>();
  // Which stored run is on screen, so a reload never redraws it (or replaces a newer one).
  private shownAt: number | null = null;
  private generation = 0;
  private readonly onWake = (): void => {
    if (document.visibilityState === "visible") this.refresh();
  };

  constructor(
    parent: HTMLElement,
    private readonly config: IdeConfig,
  ) {
    super();
    this.root = el("div", "ide-tests");
    this.summaryLine = el("p", "ide-tests-summary", "Loading the latest test results…");
    this.summaryLine.dataset.testid = "test-summary";
    this.summaryLine.setAttribute("role", "status");
    this.list = el("ol", "ide-tests-list");
    this.list.dataset.testid = "test-results";
    this.list.setAttribute("aria-label", "Test results");
    this.extra = el("div", "ide-tests-extra");
    this.root.append(this.summaryLine, this.list, this.extra);
    parent.append(this.root);
    window.addEventListener("online", this.onWake);
    document.addEventListener("visibilitychange", this.onWake);
    this.refresh();
  }

  get running(): boolean {
    return this.state === "running";
  }

  /** Loads the latest visible run from the agent, unless a run is going on here. */
  refresh(): void {
    if (!this.running) void this.loadLast(true);
  }

  runTests(): void {
    if (this.running) return;
    this.generation += 1;
    this.clear();
    this.finished = false;
    this.setSummary("Starting the tests…", "running");
    const socket = new WebSocket(agentSocketUrl(this.config, "tests/stream"));
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      socket.send(JSON.stringify({ type: "start", which: "visible" }));
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.finished) {
        this.setSummary(
          opened
            ? "Connection lost; the test run was stopped."
            : "Could not reach the workspace; the tests did not run.",
          "error",
        );
      }
      this.setState("idle");
    };
    this.setState("running");
  }

  stop(): void {
    if (!this.running) return;
    this.finished = true;
    this.closeSocket();
    this.setSummary(`Stopped. ${this.progress()}`, "error");
    this.setState("idle");
  }

  destroy(): void {
    this.closeSocket();
    window.removeEventListener("online", this.onWake);
    document.removeEventListener("visibilitychange", this.onWake);
    this.root.remove();
  }

  private receive(raw: unknown): void {
    if (typeof raw !== "string") return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (message.type) {
      case "started":
        this.setSummary("Running the tests…", "running");
        break;
      case "result":
        if (typeof message.name === "string") {
          this.addResult(message as unknown as TestResult);
          this.setSummary(`Running the tests… ${this.progress()}`, "running");
        }
        break;
      case "summary": {
        this.finished = true;
        const { results, ...summary } = message as unknown as TestSummary & {
          results?: TestResult[];
        };
        // The summary's results are the final word (JUnit); streamed rows were a preview.
        this.showResults(Array.isArray(results) ? results : []);
        this.showSummary(summary, null);
        // Learn which stored run this is, so a later reload does not redraw it.
        void this.loadLast(false);
        break;
      }
      case "error":
        this.finished = true;
        this.setSummary(
          typeof message.message === "string" ? message.message : "The tests could not run.",
          "error",
        );
        break;
    }
  }

  private async loadLast(render: boolean): Promise<void> {
    const generation = this.generation;
    let last: LastRun;
    try {
      last = await requestJson<LastRun>(this.config, "GET", agentUrl(this.config, "tests/last"));
    } catch (error) {
      if (render && this.shownAt === null && !this.running && generation === this.generation) {
        const reason = error instanceof Error ? error.message : String(error);
        this.setSummary(`The latest test results could not be loaded: ${reason}`, "error");
      }
      return;
    }
    // A run started meanwhile (or going on) has the newer results.
    if (generation !== this.generation || (render && this.running)) return;
    if (!last?.summary) {
      if (render && this.shownAt === null) {
        this.setSummary("No test results yet. Run the tests to see them here.", "idle");
      }
      return;
    }
    const at = typeof last.finished_at === "number" ? last.finished_at : 0;
    if (!render || at === this.shownAt) {
      this.shownAt = at;
      return;
    }
    this.shownAt = at;
    this.clear();
    this.showResults(Array.isArray(last.results) ? last.results : []);
    this.showSummary(last.summary, at);
  }

  private showResults(results: TestResult[]): void {
    const open = new Set(
      [...this.list.querySelectorAll<HTMLDetailsElement>("details[open]")].map(
        (details) => details.dataset.name,
      ),
    );
    this.list.replaceChildren();
    this.rows.clear();
    this.counts = { passed: 0, failed: 0, skipped: 0, error: 0 };
    for (const result of results) {
      if (typeof result?.name !== "string") continue;
      this.addResult(result);
      const details = this.rows.get(result.name)?.querySelector("details");
      if (details && open.has(result.name)) details.open = true;
    }
  }

  private addResult(result: TestResult): void {
    const known = OUTCOMES[result.outcome] ?? OUTCOMES.error;
    const outcome = OUTCOMES[result.outcome] ? result.outcome : "error";
    this.counts[outcome as keyof typeof this.counts] += 1;
    const item = el("li", "ide-test");
    item.dataset.outcome = outcome;
    const row = el("span", "ide-test-row");
    const symbol = el("span", "ide-test-symbol", known.symbol);
    symbol.setAttribute("aria-hidden", "true");
    row.append(
      symbol,
      el("span", "ide-test-word", known.word),
      el("span", "ide-test-name", result.name),
      el("span", "ide-test-duration", duration(result.duration_seconds)),
    );
    const message = typeof result.message === "string" ? result.message.trim() : "";
    const output = typeof result.output === "string" ? result.output.trim() : "";
    if (message || output) {
      const details = el("details", "ide-test-details");
      details.dataset.name = result.name;
      const summary = el("summary", "ide-test-summary");
      summary.append(row);
      details.append(summary);
      if (message) details.append(el("pre", "ide-test-message", message));
      if (output) {
        details.append(el("p", "ide-test-output-label", "Output"));
        details.append(el("pre", "ide-test-output", output));
      }
      item.append(details);
    } else {
      item.append(row);
    }
    const previous = this.rows.get(result.name);
    if (previous) previous.replaceWith(item);
    else this.list.append(item);
    this.rows.set(result.name, item);
  }

  private showSummary(summary: TestSummary, finishedAt: number | null): void {
    let text = summaryText(summary);
    if (finishedAt) {
      const when = new Date(finishedAt * 1000).toLocaleTimeString([], {
        hour: "2-digit",
        minute: "2-digit",
      });
      text += ` (last run at ${when})`;
    }
    this.setSummary(text, summary.status);
    this.extra.replaceChildren();
    const output = [summary.stdout, summary.stderr]
      .filter((part) => typeof part === "string" && part.trim())
      .join("\n");
    if (output) {
      const details = el("details", "ide-tests-runner");
      details.append(el("summary", "", "Test runner output"), el("pre", "", output));
      // An error has no rows to explain it; the runner's output usually does.
      if (summary.status === "error") details.open = true;
      this.extra.append(details);
    }
    this.emit("summary", summary);
  }

  private progress(): string {
    const parts = Object.entries(this.counts)
      .filter(([, count]) => count > 0)
      .map(([word, count]) => (word === "error" ? plural(count, "error") : `${count} ${word}`));
    return parts.length ? `${parts.join(", ")} so far` : "";
  }

  private clear(): void {
    this.list.replaceChildren();
    this.extra.replaceChildren();
    this.rows.clear();
    this.counts = { passed: 0, failed: 0, skipped: 0, error: 0 };
  }

  private setSummary(text: string, tone: string): void {
    this.summaryLine.textContent = text.trim();
    this.summaryLine.dataset.tone = tone;
  }

  private setState(state: TestState): void {
    if (state === this.state) return;
    this.state = state;
    this.root.dataset.state = state;
    this.emit("state", state);
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
    }
  }
}
