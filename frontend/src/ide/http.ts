// JSON calls to the portal and, through its proxy, to the workspace agent. Both answer errors
// as {"error": {"code", "message"}}; the message is meant for people, so it is what we show.
import type { IdeConfig } from "./config";

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function requestJson<T>(
  config: IdeConfig,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {
    Accept: "application/json",
    "X-CSRF-Token": config.csrfToken,
  };
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new RequestError(0, "offline", "The server cannot be reached. Check your connection.");
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new RequestError(
      response.status,
      error?.code ?? "error",
      error?.message ?? `The server answered ${response.status}.`,
    );
  }
  return data as T;
}
