// The page's configuration: a <script type="application/json" id="ide-config"> block that the
// portal renders (no inline scripts: the CSP is script-src 'self').

export interface IdeUser {
  name: string;
  color: string;
}

export type IdeRole = "candidate" | "interviewer" | "spectator";

export interface IdeConfig {
  interviewId: string;
  user: IdeUser;
  /** Where the agent is reached; defaults to /w/{interviewId}/agent (the portal's proxy). */
  agentBase: string;
  role: IdeRole;
  kind: "live" | "take_home";
  title: string;
  /** Whose session it is (staff only). */
  candidateName: string | null;
  /** ISO time the workspace ends (null: no deadline). */
  deadline: string | null;
  /** The server's clock when the page was rendered, to correct the browser's. */
  serverNow: string | null;
  /** The interview's SSE stream (status changes, the end). */
  eventsUrl: string | null;
  /** POST here to submit early (take-home candidates only). */
  submitUrl: string | null;
  /** GET/POST {"mode"} here to switch observe mode (interviewers only). */
  modeUrl: string | null;
  /** Where "leave" goes (the dashboard for staff). */
  backUrl: string | null;
  /** The portal's CSRF token, sent on every write. */
  csrfToken: string;
  /** Staff watching as a spectator: every call to the agent says `?as=spectator`. */
  spectate: boolean;
}

const DEFAULT_COLOR = "#3b82f6";
const ROLES: readonly IdeRole[] = ["candidate", "interviewer", "spectator"];

const text = (value: unknown, fallback: string): string =>
  typeof value === "string" ? value : fallback;
const optional = (value: unknown): string | null =>
  typeof value === "string" && value !== "" ? value : null;

export function readConfig(id = "ide-config"): IdeConfig {
  const element = document.getElementById(id);
  if (!element?.textContent) throw new Error(`#${id} is missing`);
  const raw = JSON.parse(element.textContent) as Record<string, unknown> & {
    user?: Partial<IdeUser>;
  };
  if (typeof raw.interviewId !== "string" || raw.interviewId === "") {
    throw new Error(`#${id} has no interviewId`);
  }
  const interviewId = raw.interviewId;
  const role = ROLES.find((known) => known === raw.role) ?? "candidate";
  const meta = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  return {
    interviewId,
    user: {
      name: text(raw.user?.name, "Anonymous"),
      color: text(raw.user?.color, DEFAULT_COLOR),
    },
    agentBase:
      typeof raw.agentBase === "string"
        ? raw.agentBase.replace(/\/+$/, "")
        : `/w/${encodeURIComponent(interviewId)}/agent`,
    role,
    kind: raw.kind === "take_home" ? "take_home" : "live",
    title: text(raw.title, "Workspace"),
    candidateName: optional(raw.candidateName),
    deadline: optional(raw.deadline),
    serverNow: optional(raw.serverNow),
    eventsUrl: optional(raw.eventsUrl),
    submitUrl: optional(raw.submitUrl),
    modeUrl: optional(raw.modeUrl),
    backUrl: optional(raw.backUrl),
    csrfToken: meta?.content ?? "",
    spectate: raw.spectate === true,
  };
}

/** The query every call to the agent carries (the portal's proxy reads `as`). */
export function agentParams(config: IdeConfig): Record<string, string> {
  return config.spectate ? { as: "spectator" } : {};
}

function withParams(url: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return query ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url;
}

/** The socket's base, without a query: y-websocket appends the room and its own params. */
export function agentSocketBase(config: IdeConfig, path: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${config.agentBase}/${path.replace(/^\/+/, "")}`;
}

/** ws(s)://host/<agentBase>/<path>?<params> for the page's own origin. */
export function agentSocketUrl(
  config: IdeConfig,
  path: string,
  params: Record<string, string> = {},
): string {
  return withParams(agentSocketBase(config, path), { ...agentParams(config), ...params });
}

/** /<agentBase>/<path>?<params>, for HTTP calls through the portal's proxy. */
export function agentUrl(
  config: IdeConfig,
  path: string,
  params: Record<string, string> = {},
): string {
  return withParams(`${config.agentBase}/${path.replace(/^\/+/, "")}`, {
    ...agentParams(config),
    ...params,
  });
}
