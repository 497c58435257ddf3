// The shared terminal: xterm.js over the agent's `/terminal` WebSocket.
//
// client -> agent: {"type": "input", "data": "ls\r"}, {"type": "resize", "rows": 40, "cols": 120}
// agent -> client: {"type": "output", "data": "..."} (first the recent scrollback, then live),
//                  {"type": "error", "code": ..., "message": ...} (e.g. read_only input)
// See prequel/agent/routes/terminal.py. Every attach replays the scrollback, so the screen is
// reset before each new connection's first output.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";

import { type IdeConfig, agentSocketUrl } from "./config";
import { Emitter } from "./events";
import { type NetworkWatcher, watchNetwork } from "./network";

/** stopped: the agent refused this viewer for good (a 44xx close code, e.g. 4400). */
export type TerminalStatus = "connecting" | "connected" | "reconnecting" | "stopped";

export interface TerminalEvents {
  status: TerminalStatus;
  error: { code: string; message: string };
}

interface ServerMessage {
  type: string;
  data?: unknown;
  code?: unknown;
  message?: unknown;
}

const MAX_BACKOFF_MS = 5000;

export class SharedTerminal extends Emitter<TerminalEvents> {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly url: string;
  private socket: WebSocket | null = null;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private resizeObserver: ResizeObserver | null = null;
  private freshConnection = false;
  private destroyed = false;
  private readonly network: NetworkWatcher;

  constructor(config: IdeConfig, private readonly parent: HTMLElement) {
    super();
    this.url = agentSocketUrl(config, "terminal");
    this.term = new Terminal({
      cursorBlink: true,
      convertEol: false,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      fontSize: 13,
      scrollback: 5000,
    });
    this.term.loadAddon(this.fit);
    this.term.open(parent);
    this.term.onData((data) => this.send({ type: "input", data }));
    this.term.onResize(({ rows, cols }) => this.send({ type: "resize", rows, cols }));
    this.resizeObserver = new ResizeObserver(() => this.fitToParent());
    this.resizeObserver.observe(parent);
    this.fitToParent();
    this.connect();
    this.network = watchNetwork(
      () => this.drop(),
      () => {
        // Back online: no need to wait for the backoff.
        if (this.retryTimer === null || this.destroyed) return;
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.failures = 0;
        this.connect();
      },
    );
  }

  /** Read-only viewers and a finished session type nothing into the shell. */
  setInputEnabled(enabled: boolean): void {
    this.term.options.disableStdin = !enabled;
  }

  /** Fits the terminal after its panel was shown or resized by a splitter. */
  refit(): void {
    this.fitToParent();
  }

  destroy(): void {
    this.destroyed = true;
    this.network.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.resizeObserver?.disconnect();
    this.socket?.close();
    this.term.dispose();
  }

  private fitToParent(): void {
    // A hidden panel has no size; fitting it would shrink the shell to one column.
    if (this.parent.clientWidth > 0 && this.parent.clientHeight > 0) this.fit.fit();
  }

  private connect(): void {
    this.emit("status", this.failures === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.freshConnection = true;
      this.emit("status", "connected");
      this.send({ type: "resize", rows: this.term.rows, cols: this.term.cols });
    };
    socket.onmessage = (event: MessageEvent) => this.receive(event.data);
    socket.onerror = () => {
      // Followed by onclose, which schedules the retry.
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.destroyed) return;
      if (event.code >= 4400 && event.code < 4500) {
        this.emit("status", "stopped");
        return;
      }
      this.retryLater();
    };
  }

  private retryLater(): void {
    this.failures += 1;
    this.emit("status", "reconnecting");
    const delay = Math.min(250 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.destroyed) this.connect();
    }, delay);
  }

  /** The network is gone: forget this socket now (its close may take long) and retry. */
  private drop(): void {
    const socket = this.socket;
    if (socket === null || this.destroyed) return;
    this.socket = null;
    socket.close();
    if (this.retryTimer === null) this.retryLater();
  }

  private receive(raw: unknown): void {
    if (typeof raw !== "string") return;
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === "output" && typeof message.data === "string") {
      if (this.freshConnection) {
        // The agent replays its scrollback to every new viewer: start from a clean screen.
        this.freshConnection = false;
        this.term.reset();
      }
      this.term.write(message.data);
    } else if (message.type === "error") {
      this.emit("error", {
        code: typeof message.code === "string" ? message.code : "error",
        message: typeof message.message === "string" ? message.message : "",
      });
    }
  }

  private send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
