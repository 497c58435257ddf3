// The page's configuration: a <script type="application/json" id="ide-config"> block that the
// portal renders (no inline scripts: the CSP is script-src 'self').

export interface IdeUser {
  name: string;
  color: string;
}

export interface IdeConfig {
  interviewId: string;
  user: IdeUser;
  /** Where the agent is reached; defaults to /w/{interviewId}/agent (the portal's proxy). */
  agentBase: string;
}

const DEFAULT_COLOR = "#3b82f6";

export function readConfig(id = "ide-config"): IdeConfig {
  const element = document.getElementById(id);
  if (!element?.textContent) throw new Error(`#${id} is missing`);
  const raw = JSON.parse(element.textContent) as Partial<IdeConfig> & {
    user?: Partial<IdeUser>;
  };
  if (typeof raw.interviewId !== "string" || raw.interviewId === "") {
    throw new Error(`#${id} has no interviewId`);
  }
  const interviewId = raw.interviewId;
  return {
    interviewId,
    user: {
      name: typeof raw.user?.name === "string" ? raw.user.name : "Anonymous",
      color: typeof raw.user?.color === "string" ? raw.user.color : DEFAULT_COLOR,
    },
    agentBase:
      typeof raw.agentBase === "string"
        ? raw.agentBase.replace(/\/+$/, "")
        : `/w/${encodeURIComponent(interviewId)}/agent`,
  };
}

/** ws(s)://host/<agentBase>/<path> for the page's own origin. */
export function agentSocketUrl(config: IdeConfig, path: string): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${config.agentBase}/${path.replace(/^\/+/, "")}`;
}
