// The Run output panel: one program at a time over the agent's `/runs/stream` WebSocket.
//
// client -> agent: {"type": "start", "file": path}, {"type": "stdin", "data": "..."},
//                  {"type": "stdin_eof"}, {"type": "stop"}
// agent -> client: {"type": "started", "argv"}, {"type": "output", "stream", "data"},
//                  {"type": "exit", ...outcome}, {"type": "error", "code", "message"}
// The agent stops the run when the socket closes, so a dropped connection ends the run too.
// The Run and Stop buttons live in the page's toolbar; this panel is the output and stdin.
import "./runs.css";

import { type IdeConfig, agentSocketUrl } from "./config";
import { Emitter } from "./events";

export type RunState = "idle" | "running";

interface Outcome {
  reason?: unknown;
  exit_code?: unknown;
  signal?: unknown;
  wall_ms?: unknown;
  detail?: unknown;
}

interface ServerMessage extends Outcome {
  type?: unknown;
  argv?: unknown;
  stream?: unknown;
  data?: unknown;
  message?: unknown;
}

/** Characters of output kept on the page: an endless print loop must not freeze it. */
const MAX_OUTPUT_CHARS = 200_000;
/** After Stop, how long the agent gets to answer with `exit` before the socket is closed. */
const STOP_GRACE_MS = 5000;

const REASONS: Record<string, string> = {
  killed: "Stopped",
  time_limit: "Time limit reached",
  cpu_limit: "CPU time limit reached",
  memory_limit: "Memory limit reached",
  output_limit: "Output limit reached",
  failed_to_start: "Could not start",
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

function seconds(ms: unknown): string {
  if (typeof ms !== "number") return "";
  return ms < 1000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** "Exited with code 0 in 0.04 s", "Time limit reached after 20.0 s: used 20 s of ...". */
export function describeOutcome(outcome: Outcome): { text: string; ok: boolean } {
  const reason = typeof outcome.reason === "string" ? outcome.reason : "exit";
  const took = seconds(outcome.wall_ms);
  const detail = typeof outcome.detail === "string" ? outcome.detail : "";
  if (reason === "exit") {
    const code = typeof outcome.exit_code === "number" ? outcome.exit_code : null;
    const signal = typeof outcome.signal === "number" ? outcome.signal : null;
    let how = "Exited";
    if (code !== null) how = `Exited with code ${code}`;
    else if (signal !== null) how = `Killed by signal ${signal}`;
    return { text: took ? `${how} in ${took}` : how, ok: code === 0 };
  }
  let text = REASONS[reason] ?? `Ended (${reason})`;
  if (took && reason !== "failed_to_start") text += ` after ${took}`;
  // "stopped on request" only repeats "Stopped".
  if (detail && reason !== "killed") text += `: ${detail}`;
  return { text, ok: false };
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

let panelCount = 0;

export class RunPanel extends Emitter<{ state: RunState }> {
  private readonly root: HTMLElement;
  private readonly output: HTMLElement;
  private readonly status: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly eofButton: HTMLButtonElement;
  private socket: WebSocket | null = null;
  private state: RunState = "idle";
  private finished = false; // `exit` arrived for the current run
  private stdinOpen = false;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  // Output is buffered and written once per frame: many tiny messages, one layout.
  private pending: { kind: string; text: string }[] = [];
  private frame: number | null = null;
  private kept = 0; // characters of output in the DOM
  private trimmed = false;

  constructor(
    parent: HTMLElement,
    private readonly config: IdeConfig,
  ) {
    super();
    panelCount += 1;
    this.root = el("div", "ide-run");
    this.output = el("div", "ide-run-output");
    this.output.dataset.testid = "run-output";
    this.output.setAttribute("role", "log");
    this.output.setAttribute("aria-label", "Program output");
    this.output.tabIndex = 0;
    this.output.append(el("p", "ide-run-empty", "Run a file to see its output here."));
    this.status = el("p", "ide-run-status");
    this.status.dataset.testid = "run-status";
    this.status.setAttribute("role", "status");
    this.status.hidden = true;

    const form = el("form", "ide-run-stdin");
    form.dataset.testid = "run-stdin";
    const inputId = `ide-run-stdin-${panelCount}`;
    const label = el("label", "ide-run-stdin-label", "Input");
    label.htmlFor = inputId;
    this.input = el("input", "ide-run-stdin-field");
    this.input.type = "text";
    this.input.id = inputId;
    this.input.autocomplete = "off";
    this.input.spellcheck = false;
    this.input.placeholder = "Type input for the program, Enter sends it";
    this.sendButton = el("button", "btn btn-small", "Send");
    this.sendButton.type = "submit";
    this.eofButton = el("button", "btn btn-small btn-quiet", "Send EOF");
    this.eofButton.type = "button";
    this.eofButton.title = "Close the program's input (end of file, like Ctrl-D)";
    form.append(label, this.input, this.sendButton, this.eofButton);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendInput();
    });
    this.eofButton.addEventListener("click", () => this.sendEof());

    this.root.append(this.output, this.status, form);
    parent.append(this.root);
    this.setStdinEnabled(false);
  }

  get running(): boolean {
    return this.state === "running";
  }

  /** Runs `path` (a workspace path), replacing whatever the panel showed. */
  run(path: string): void {
    this.closeSocket();
    this.clear();
    this.finished = false;
    this.line("ide-run-header", `$ run ${path}`);
    this.setStatus("Starting…", "running");
    const socket = new WebSocket(agentSocketUrl(this.config, "runs/stream"));
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      socket.send(JSON.stringify({ type: "start", file: path }));
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.finished) {
        this.flush();
        this.setStatus(
          opened
            ? "Connection lost; the run was stopped."
            : "Could not reach the workspace; the run did not start.",
          "error",
        );
      }
      this.setState("idle");
    };
    this.setState("running");
    this.setStdinEnabled(true);
  }

  stop(): void {
    const socket = this.socket;
    if (socket === null || !this.running) return;
    if (socket.readyState !== WebSocket.OPEN) {
      this.finished = true;
      this.setStatus("Stopped before it started.", "error");
      this.closeSocket();
      this.setState("idle");
      return;
    }
    socket.send(JSON.stringify({ type: "stop" }));
    this.setStatus("Stopping…", "running");
    // The agent answers with `exit`; if it does not, leaving the socket stops the run too.
    this.stopTimer ??= setTimeout(() => {
      this.stopTimer = null;
      if (this.socket === socket && !this.finished) {
        this.finished = true;
        this.setStatus("Stopped.", "error");
        this.closeSocket();
        this.setState("idle");
      }
    }, STOP_GRACE_MS);
  }

  destroy(): void {
    this.closeSocket();
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.root.remove();
  }

  private receive(raw: unknown): void {
    if (typeof raw !== "string") return;
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case "started":
        if (Array.isArray(message.argv)) {
          const argv = message.argv.filter((arg): arg is string => typeof arg === "string");
          const header = this.output.querySelector(".ide-run-header");
          if (header) header.textContent = `$ ${argv.map(shellQuote).join(" ")}`;
        }
        this.setStatus("Running…", "running");
        break;
      case "output":
        if (typeof message.data === "string") {
          this.write(message.stream === "stderr" ? "stderr" : "stdout", message.data);
        }
        break;
      case "exit": {
        this.flush();
        this.finished = true;
        const { text, ok } = describeOutcome(message);
        this.setStatus(text, ok ? "ok" : "bad");
        this.setStdinEnabled(false);
        break;
      }
      case "error":
        this.flush();
        this.line(
          "ide-run-error",
          typeof message.message === "string" ? message.message : "The agent reported an error.",
        );
        if (!this.finished) {
          // Errors before `started` end the run (the agent closes with 1008).
          this.finished = true;
          this.setStatus("The run could not start.", "bad");
        }
        break;
    }
  }

  private sendInput(): void {
    if (!this.stdinOpen || this.socket?.readyState !== WebSocket.OPEN) return;
    const data = `${this.input.value}\n`;
    this.socket.send(JSON.stringify({ type: "stdin", data }));
    this.write("stdin", data);
    this.input.value = "";
  }

  private sendEof(): void {
    if (!this.stdinOpen || this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify({ type: "stdin_eof" }));
    this.write("stdin", "^D\n");
    this.setStdinEnabled(false);
  }

  private write(kind: string, text: string): void {
    this.pending.push({ kind, text });
    this.frame ??= requestAnimationFrame(() => this.flush());
  }

  /** Writes buffered output, merging it into the last span of the same kind. */
  private flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (this.pending.length === 0) return;
    const atBottom = this.isAtBottom();
    for (const { kind, text } of this.pending) {
      const last = this.output.lastElementChild;
      if (last instanceof HTMLSpanElement && last.dataset.stream === kind && last.firstChild) {
        (last.firstChild as Text).appendData(text);
      } else {
        const span = el("span", kind === "stdin" ? "ide-run-echo" : `ide-run-${kind}`, text);
        span.dataset.stream = kind;
        this.output.append(span);
      }
      this.kept += text.length;
    }
    this.pending = [];
    this.trim();
    if (atBottom) this.output.scrollTop = this.output.scrollHeight;
  }

  /** Drops the oldest output beyond the cap, keeping the header line. */
  private trim(): void {
    let excess = this.kept - MAX_OUTPUT_CHARS;
    if (excess <= 0) return;
    const spans = this.output.querySelectorAll<HTMLSpanElement>("span[data-stream]");
    for (const span of spans) {
      if (excess <= 0) break;
      const length = span.textContent?.length ?? 0;
      if (length <= excess) {
        span.remove();
        excess -= length;
        this.kept -= length;
      } else {
        (span.firstChild as Text).deleteData(0, excess);
        this.kept -= excess;
        excess = 0;
      }
    }
    if (!this.trimmed) {
      this.trimmed = true;
      const note = el("p", "ide-run-trimmed", "Earlier output was removed to keep the page fast.");
      this.output.querySelector(".ide-run-header")?.after(note);
    }
  }

  private isAtBottom(): boolean {
    const out = this.output;
    return out.scrollHeight - out.scrollTop - out.clientHeight < 24;
  }

  private line(className: string, text: string): void {
    this.output.append(el("p", className, text));
    this.output.scrollTop = this.output.scrollHeight;
  }

  private clear(): void {
    this.pending = [];
    this.kept = 0;
    this.trimmed = false;
    this.output.replaceChildren();
    this.status.hidden = true;
  }

  private setStatus(text: string, tone: "running" | "ok" | "bad" | "error"): void {
    // A longer status line shrinks the output; whoever followed its end keeps following it.
    const atBottom = this.isAtBottom();
    this.status.textContent = text;
    this.status.dataset.tone = tone;
    this.status.hidden = false;
    if (atBottom) this.output.scrollTop = this.output.scrollHeight;
  }

  private setStdinEnabled(enabled: boolean): void {
    this.stdinOpen = enabled;
    this.input.disabled = !enabled;
    this.sendButton.disabled = !enabled;
    this.eofButton.disabled = !enabled;
  }

  private setState(state: RunState): void {
    if (state === "idle") {
      this.setStdinEnabled(false);
      if (this.stopTimer !== null) clearTimeout(this.stopTimer);
      this.stopTimer = null;
    }
    if (state === this.state) return;
    this.state = state;
    this.emit("state", state);
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
    }
    if (this.stopTimer !== null) clearTimeout(this.stopTimer);
    this.stopTimer = null;
  }
}
