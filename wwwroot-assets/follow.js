// The follow page (follow.html): a run's events, live, with the connection's state. A file, not an inline
// script, so the page works under the app's Content-Security-Policy (script-src 'self').
(async () => {
  const hash = new URLSearchParams(location.hash.slice(1));
  const status = document.getElementById("status");
  const list = document.getElementById("events");
  // The run's last known status, and whether the server can be reached now: while it cannot, the
  // page says so instead of showing a status that may be stale.
  let runStatus = null;
  let connection = "connecting";
  function show() {
    status.dataset.connection = connection;
    status.textContent =
      connection === "reconnecting" ? "Reconnecting…" + (runStatus ? ` (last known: ${runStatus})` : "") :
      connection === "disconnected" ? "Disconnected: the server cannot be reached. Reload to try again." + (runStatus ? ` (last known: ${runStatus})` : "") :
      runStatus || (connection === "connecting" ? "connecting…" : "following");
  }
  try {
    await ApprovalStudio.followExecution({
      executionId: hash.get("execution"),
      accessToken: hash.get("token"),
      onEvent: e => {
        const item = document.createElement("li");
        // The list's own number is the event's sequence (the text does not repeat it).
        item.value = e.sequence;
        item.dataset.sequence = e.sequence;
        item.textContent = `${e.type}${e.nodeId ? " " + e.nodeId : ""} (${e.status})`;
        list.append(item);
        runStatus = e.status;
        show();
      },
      onConnection: state => { connection = state; show(); },
      onError: error => { status.textContent = "error: " + error.message; },
    });
    connection = "connected";
    show();
  } catch (error) {
    status.textContent = "error: " + error.message;
  }
})();
