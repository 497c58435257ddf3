// The chat panel over the agent's `/collab/chat` WebSocket (JSON text).
//
// agent -> client: {"type": "hello", "user", "can_send"}, {"type": "history", "messages"},
//                  {"type": "message", "message": {id, ts, user: {id, name, role}, text}},
//                  {"type": "error", "code", "message"}
// client -> agent: {"type": "send", "text"}
// The agent stamps each message with the sender's identity. A reconnection asks only for what
// came after the last message seen (`?after=<id>`), so nothing is shown twice or missed.
import "./chat.css";

import { type IdeConfig, agentSocketUrl } from "./config";
import { Emitter } from "./events";
import { type NetworkWatcher, watchNetwork } from "./network";

interface ChatUser {
  id: string;
  name: string;
  role: string;
}

interface ChatMessage {
  id: number;
  ts: number;
  user: ChatUser;
  text: string;
}

const MAX_CHARS = 4000;
/** The counter appears this close to the limit. */
const COUNTER_FROM = 3600;
const MAX_BACKOFF_MS = 10_000;
/** Lines kept on the page; older ones scroll away for good (the agent keeps them). */
const MAX_LINES = 1000;

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

function isMessage(value: unknown): value is ChatMessage {
  const m = value as Partial<ChatMessage> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.id === "number" &&
    typeof m.text === "string" &&
    typeof m.user === "object" &&
    m.user !== null &&
    typeof m.user.name === "string"
  );
}

function timeLabel(ts: number): { text: string; iso: string; full: string } {
  const date = new Date(ts * 1000);
  const today = new Date().toDateString() === date.toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = date.toLocaleDateString([], { month: "short", day: "numeric" });
  return {
    text: today ? time : `${day} ${time}`,
    iso: date.toISOString(),
    full: date.toLocaleString(),
  };
}

let panelCount = 0;

export class ChatPanel extends Emitter<{ unread: number }> {
  private readonly root: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly log: HTMLOListElement;
  private readonly form: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly counter: HTMLElement;
  private readonly why: HTMLElement;
  private readonly sendButton: HTMLButtonElement;
  private socket: WebSocket | null = null;
  private me: ChatUser | null = null;
  private canSend = false;
  private lastId = 0;
  private joined = false; // the first history has arrived (later ones may count as unread)
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private visible = true;
  private unread = 0;
  private pendingText: string | null = null; // what was sent, restored if the agent refuses it
  private stopped = false;
  private destroyed = false;
  private readonly network: NetworkWatcher;

  constructor(
    parent: HTMLElement,
    private readonly config: IdeConfig,
  ) {
    super();
    panelCount += 1;
    this.root = el("div", "ide-chat");
    this.banner = el("p", "ide-chat-banner");
    this.banner.setAttribute("role", "status");
    this.banner.hidden = true;
    this.log = el("ol", "ide-chat-log");
    this.log.dataset.testid = "chat-log";
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", "Chat messages");
    this.log.tabIndex = 0;
    this.log.append(el("li", "ide-chat-empty", "No messages yet."));

    this.form = el("form", "ide-chat-form");
    const inputId = `ide-chat-input-${panelCount}`;
    const hintId = `${inputId}-hint`;
    const label = el("label", "visually-hidden", "Message");
    label.htmlFor = inputId;
    this.input = el("textarea", "ide-chat-input");
    this.input.id = inputId;
    this.input.dataset.testid = "chat-input";
    this.input.rows = 2;
    this.input.maxLength = MAX_CHARS;
    this.input.placeholder = "Write a message…";
    this.input.setAttribute("aria-describedby", hintId);
    const row = el("div", "ide-chat-form-row");
    const hint = el("span", "ide-chat-hint", "Enter sends, Shift+Enter adds a line");
    hint.id = hintId;
    this.counter = el("span", "ide-chat-counter");
    this.counter.setAttribute("aria-live", "polite");
    this.sendButton = el("button", "btn btn-primary btn-small", "Send");
    this.sendButton.type = "submit";
    row.append(hint, this.counter, this.sendButton);
    this.why = el("p", "ide-chat-why");
    this.why.hidden = true;
    this.form.append(label, this.input, row, this.why);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.input.addEventListener("input", () => this.updateCounter());

    this.root.append(this.banner, this.log, this.form);
    parent.append(this.root);
    this.applyInput();
    this.connect();
    this.network = watchNetwork(
      () => this.drop(),
      () => this.wake(),
    );
  }

  /** A local line ("Ida joined"): shown here only, never sent. */
  notice(text: string): void {
    this.append(el("li", "ide-chat-notice", text));
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) {
      this.setUnread(0);
      this.log.scrollTop = this.log.scrollHeight;
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.network.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.root.remove();
  }

  private connect(): void {
    const params: Record<string, string> = this.lastId > 0 ? { after: String(this.lastId) } : {};
    const socket = new WebSocket(agentSocketUrl(this.config, "collab/chat", params));
    this.socket = socket;
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket || this.destroyed) return;
      this.socket = null;
      this.applyInput();
      if (event.code >= 4400 && event.code < 4500) {
        // The agent refused this viewer for good (4400: a portal bug); retrying cannot help.
        this.stopped = true;
        this.setBanner(
          `The chat is unavailable${event.reason ? `: ${event.reason}` : ""}.`,
          "error",
        );
        this.applyInput();
        return;
      }
      this.retryLater();
    };
  }

  private retryLater(): void {
    this.failures += 1;
    this.setBanner("Reconnecting…", "reconnecting");
    const delay = Math.min(500 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.destroyed) this.connect();
    }, delay);
  }

  /** The browser went offline: forget the socket now (its close may take long), retry. */
  private drop(): void {
    const socket = this.socket;
    if (socket === null || this.destroyed || this.stopped) return;
    this.socket = null;
    socket.close();
    this.applyInput();
    if (this.retryTimer === null) this.retryLater();
  }

  /** Back online: reconnect now rather than after the backoff. */
  private wake(): void {
    if (this.retryTimer === null || this.destroyed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.failures = 0;
    this.connect();
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
      case "hello": {
        const user = message.user as ChatUser | undefined;
        this.me = user && typeof user.id === "string" ? user : null;
        this.canSend = message.can_send === true;
        this.failures = 0;
        this.setBanner("", "");
        this.applyInput();
        break;
      }
      case "history": {
        const messages = Array.isArray(message.messages) ? message.messages : [];
        for (const item of messages) if (isMessage(item)) this.addMessage(item, this.joined);
        this.joined = true;
        this.log.scrollTop = this.log.scrollHeight;
        break;
      }
      case "message":
        if (isMessage(message.message)) this.addMessage(message.message, true);
        break;
      case "error":
        this.showError(
          typeof message.message === "string" ? message.message : "The message was not sent.",
        );
        if (this.pendingText !== null && this.input.value === "") {
          this.input.value = this.pendingText;
          this.updateCounter();
        }
        this.pendingText = null;
        break;
    }
  }

  private addMessage(message: ChatMessage, live: boolean): void {
    if (message.id <= this.lastId) return; // already shown (a reconnection's overlap)
    this.lastId = message.id;
    const own = this.me !== null && message.user.id === this.me.id;
    if (own) this.pendingText = null;
    const item = el("li", own ? "ide-chat-message is-own" : "ide-chat-message");
    item.dataset.id = String(message.id);
    const meta = el("div", "ide-chat-meta");
    const who = own ? `${message.user.name} (you)` : message.user.name;
    const name = el("span", "ide-chat-name", who);
    const role = el("span", "ide-chat-role", message.user.role);
    role.dataset.role = message.user.role;
    const when = timeLabel(typeof message.ts === "number" ? message.ts : Date.now() / 1000);
    const time = el("time", "ide-chat-time", when.text);
    time.dateTime = when.iso;
    time.title = when.full;
    meta.append(name, role, time);
    item.append(meta, el("div", "ide-chat-text", message.text));
    this.append(item);
    if (live && !own && !this.visible) this.setUnread(this.unread + 1);
  }

  private append(item: HTMLLIElement): void {
    this.log.querySelector(".ide-chat-empty")?.remove();
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 32;
    this.log.append(item);
    while (this.log.childElementCount > MAX_LINES) this.log.firstElementChild?.remove();
    if (atBottom || item.classList.contains("is-own")) this.log.scrollTop = this.log.scrollHeight;
  }

  private showError(text: string): void {
    const item = el("li", "ide-chat-error", text);
    item.setAttribute("role", "alert");
    this.append(item);
  }

  private send(): void {
    const text = this.input.value;
    if (!text.trim() || !this.canSend || this.socket?.readyState !== WebSocket.OPEN) return;
    if (text.length > MAX_CHARS) {
      this.showError(`A message can have at most ${MAX_CHARS} characters.`);
      return;
    }
    this.socket.send(JSON.stringify({ type: "send", text }));
    this.pendingText = text;
    this.input.value = "";
    this.updateCounter();
  }

  private updateCounter(): void {
    const length = this.input.value.length;
    this.counter.textContent = length >= COUNTER_FROM ? `${length} / ${MAX_CHARS}` : "";
    this.counter.dataset.full = String(length >= MAX_CHARS);
  }

  /** The input follows the connection and the agent's `can_send`, saying why when off. */
  private applyInput(): void {
    const open = this.socket?.readyState === WebSocket.OPEN && this.me !== null;
    let why = "";
    if (this.stopped) why = "The chat is unavailable.";
    else if (!open) why = "";
    else if (!this.canSend) {
      why =
        this.me?.role === "spectator"
          ? "You are watching as a spectator: you can read the chat but not post."
          : "You cannot post in this chat.";
    }
    const enabled = open && this.canSend && !this.stopped;
    // While (re)connecting a draft can still be written; it is sent once connected.
    this.input.disabled = why !== "";
    this.sendButton.disabled = !enabled;
    this.why.textContent = why;
    this.why.hidden = why === "";
    this.form.dataset.enabled = String(enabled);
  }

  private setBanner(text: string, tone: string): void {
    const log = this.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 32;
    this.banner.textContent = text;
    this.banner.dataset.tone = tone;
    this.banner.hidden = text === "";
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  private setUnread(count: number): void {
    if (count === this.unread) return;
    this.unread = count;
    this.emit("unread", count);
  }
}
