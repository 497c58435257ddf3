// The shared document: a Y.Doc synced with the agent's `/collab/doc` room over y-websocket.
//
// The agent speaks the standard y-websocket protocol plus notices on message type 100 (a
// length-prefixed UTF-8 JSON object): `hello` (first, on every connection: epoch, identity,
// writable, mode), `mode` (observe/edit changed) and `rejected` (an edit was refused; the
// socket then closes with 4412). See docs/agent-protocol.md, "Collaboration".
//
// A document is replaced by a fresh one when the agent says the local copy must not be merged:
// 4409 (the epoch names a previous document), 4412 and 1009 (the local doc holds an edit the
// room refused). Listeners get a `doc` event each time and must rebind to the new document.
import * as decoding from "lib0/decoding";
import type * as encoding from "lib0/encoding";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

import { type IdeConfig, agentParams, agentSocketBase } from "./config";
import { Emitter } from "./events";
import { type NetworkWatcher, watchNetwork } from "./network";

export const MESSAGE_NOTICE = 100;

export const CLOSE_BAD_IDENTITY = 4400;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_STALE_EPOCH = 4409;
export const CLOSE_REFUSED_EDIT = 4412;
export const CLOSE_TOO_BIG = 1009;

/** Close codes after which the local Y.Doc is dropped and a new one connects. */
const RECREATE_CODES = new Set([CLOSE_STALE_EPOCH, CLOSE_REFUSED_EDIT, CLOSE_TOO_BIG]);

export type Role = "candidate" | "interviewer" | "spectator";
export type Mode = "edit" | "observe";

export interface Identity {
  id: string;
  name: string;
  role: Role;
}

export interface HelloNotice {
  type: "hello";
  room: string;
  epoch: string;
  user: Identity;
  writable: boolean;
  mode: Mode;
}

export interface ModeNotice {
  type: "mode";
  mode: Mode;
  writable: boolean;
}

export interface RejectedNotice {
  type: "rejected";
  reason: "read_only" | "room_full" | string;
  message: string;
  resync: boolean;
}

export type Notice = HelloNotice | ModeNotice | RejectedNotice;

/**
 * connecting: first attempt; connected: open and usable; reconnecting: lost, retrying (show a
 * banner); stopped: the agent refused us for good (4400, 4403), `code` says why.
 */
export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "stopped";

export interface StatusEvent {
  status: ConnectionStatus;
  code?: number;
  reason?: string;
}

export interface DocEvent {
  doc: Y.Doc;
  provider: WebsocketProvider;
}

export interface CollabEvents {
  doc: DocEvent;
  status: StatusEvent;
  synced: boolean;
  hello: HelloNotice;
  writable: boolean;
  mode: Mode;
  rejected: RejectedNotice;
}

export interface LocalUser {
  name: string;
  color: string;
}

export function parseNotice(text: string): Notice | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const type = (value as { type?: unknown }).type;
  return type === "hello" || type === "mode" || type === "rejected" ? (value as Notice) : null;
}

export class CollabSession extends Emitter<CollabEvents> {
  doc!: Y.Doc;
  provider!: WebsocketProvider;
  writable = false;
  mode: Mode | null = null;
  epoch: string | null = null;
  identity: Identity | null = null;
  status: ConnectionStatus = "connecting";

  private readonly serverUrl: string;
  private readonly baseParams: Record<string, string>;
  private recreations = 0;
  private recreateTimer: ReturnType<typeof setTimeout> | null = null;
  private destroyed = false;
  private readonly network: NetworkWatcher;

  constructor(
    config: IdeConfig,
    private readonly user: LocalUser,
    private readonly room = "doc",
  ) {
    super();
    // y-websocket connects to `${serverUrl}/${room}`: /w/{id}/agent/collab/doc.
    this.serverUrl = agentSocketBase(config, "collab");
    this.baseParams = agentParams(config);
    this.connect();
    this.network = watchNetwork(
      () => {
        // Edits made meanwhile stay in the Y.Doc and are merged on reconnection.
        this.provider.disconnect();
        if (this.status !== "stopped") this.setStatus({ status: "reconnecting" });
      },
      () => {
        if (this.status !== "stopped") this.provider.connect();
      },
    );
  }

  destroy(): void {
    this.destroyed = true;
    this.network.stop();
    if (this.recreateTimer !== null) clearTimeout(this.recreateTimer);
    this.provider.destroy();
    this.doc.destroy();
  }

  private connect(): void {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(this.serverUrl, this.room, doc, {
      // Tabs must not sync behind the agent's back: it decides who may write.
      disableBc: true,
      params: { ...this.baseParams },
      // 44xx codes and 1009 are final for this Y.Doc; `closed` below decides what follows.
      shouldReconnect: (event) =>
        !(event.code >= 4400 && event.code < 4500) && event.code !== CLOSE_TOO_BIG,
    });
    provider.messageHandlers[MESSAGE_NOTICE] = (
      _encoder: encoding.Encoder,
      decoder: decoding.Decoder,
    ) => {
      // Only for this provider; nothing is written to the encoder, so nothing is answered.
      const notice = parseNotice(decoding.readVarString(decoder));
      if (notice && this.provider === provider) this.handleNotice(notice);
    };
    provider.awareness.setLocalStateField("user", {
      name: this.user.name,
      color: this.user.color,
      colorLight: `${this.user.color}33`,
    });
    provider.on("status", ({ status }) => {
      if (this.provider !== provider) return;
      if (status === "connected") this.setStatus({ status: "connected" });
      else if (status === "disconnected") this.setStatus({ status: "reconnecting" });
    });
    provider.on("connection-error", () => {
      // Never opened (agent down, proxy refused): y-websocket retries with backoff.
      if (this.provider === provider && this.status !== "stopped") {
        this.setStatus({ status: "reconnecting" });
      }
    });
    provider.on("sync", (synced: boolean) => {
      if (this.provider !== provider) return;
      if (synced) this.recreations = 0;
      this.emit("synced", synced);
    });
    provider.on("closed", ({ code, reason }) => {
      if (this.provider === provider) this.handleFinalClose(code, reason);
    });
    this.doc = doc;
    this.provider = provider;
    this.emit("doc", { doc, provider });
  }

  private handleNotice(notice: Notice): void {
    switch (notice.type) {
      case "hello":
        this.identity = notice.user;
        this.epoch = notice.epoch;
        // Reconnecting with this Y.Doc names its epoch, so a restarted-from-nothing agent
        // refuses it (4409) instead of merging it into a new document.
        this.provider.params = { ...this.provider.params, epoch: notice.epoch };
        this.setMode(notice.mode, notice.writable);
        this.emit("hello", notice);
        break;
      case "mode":
        this.setMode(notice.mode, notice.writable);
        break;
      case "rejected":
        this.setWritable(false);
        this.emit("rejected", notice);
        break;
    }
  }

  private handleFinalClose(code: number, reason: string): void {
    if (this.destroyed) return;
    if (!RECREATE_CODES.has(code)) {
      this.setStatus({ status: "stopped", code, reason });
      return;
    }
    this.setStatus({ status: "reconnecting", code, reason });
    const old = { doc: this.doc, provider: this.provider };
    // Backed off, in case the agent keeps refusing: 0.25 s, 0.5 s, ... at most 5 s.
    const delay = Math.min(250 * 2 ** this.recreations, 5000);
    this.recreations += 1;
    this.recreateTimer = setTimeout(() => {
      this.recreateTimer = null;
      if (this.destroyed) return;
      old.provider.destroy();
      old.doc.destroy();
      this.epoch = null;
      this.connect();
    }, delay);
  }

  private setMode(mode: Mode, writable: boolean): void {
    if (mode !== this.mode) {
      this.mode = mode;
      this.emit("mode", mode);
    }
    this.setWritable(writable);
  }

  private setWritable(writable: boolean): void {
    if (writable === this.writable) return;
    this.writable = writable;
    this.emit("writable", writable);
  }

  private setStatus(event: StatusEvent): void {
    this.status = event.status;
    this.emit("status", event);
  }
}
