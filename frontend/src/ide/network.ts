// The browser's own idea of the network. A socket can look open long after the network went
// away (no TCP reset arrives), so when the browser says it is offline, connections are dropped
// at once, the page says "reconnecting…", and they come back as soon as it is online again.

export interface NetworkWatcher {
  stop(): void;
}

export function watchNetwork(onOffline: () => void, onOnline: () => void): NetworkWatcher {
  window.addEventListener("offline", onOffline);
  window.addEventListener("online", onOnline);
  return {
    stop(): void {
      window.removeEventListener("offline", onOffline);
      window.removeEventListener("online", onOnline);
    },
  };
}
