// One Server-Sent Events stream per page. EventSource reconnects by itself and sends
// Last-Event-ID, so the server replays what was missed; we only show the connection state
// and keep the server's clock.

import { syncServerTime } from "./clock.js";

export function connectEvents(url, handlers) {
  const source = new EventSource(url);
  const indicators = document.querySelectorAll("[data-live-status]");
  const show = (state, text) => {
    for (const el of indicators) {
      el.dataset.state = state;
      el.textContent = text;
    }
  };
  show("connecting", "Connecting…");
  source.addEventListener("open", () => show("live", "Live"));
  source.addEventListener("error", () => {
    show(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting",
      source.readyState === EventSource.CLOSED ? "Disconnected: reload the page" : "Reconnecting…");
  });
  const parse = (message) => {
    try {
      return JSON.parse(message.data);
    } catch {
      return null;
    }
  };
  for (const clockEvent of ["connection", "heartbeat"]) {
    source.addEventListener(clockEvent, (message) => {
      const data = parse(message);
      if (data && data.server_time) syncServerTime(data.server_time);
      show("live", "Live");
      if (handlers[clockEvent]) handlers[clockEvent](data);
    });
  }
  for (const [type, handler] of Object.entries(handlers)) {
    if (type === "connection" || type === "heartbeat") continue;
    source.addEventListener(type, (message) => {
      const data = parse(message);
      if (data !== null) handler(data, message);
    });
  }
  window.addEventListener("pagehide", () => source.close());
  return () => source.close();
}
