// Approval Studio's page helpers (loaded in <head> of every app page, before Blazor starts).
(function () {
  // The viewer's time zone, so the server can show times as they read them (see BrowserClock).
  function timeZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }
  var zone = timeZone();
  if (zone) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }
  // The light/dark choice of the app bar's toggle, read by the server when it renders the next page.
  function setTheme(theme) {
    document.cookie = "theme=" + encodeURIComponent(theme) + "; path=/; max-age=31536000; samesite=lax";
  }
  window.approvalStudio = Object.assign(window.approvalStudio || {}, { timeZone: timeZone, setTheme: setTheme });
})();
