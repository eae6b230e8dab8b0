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

  // Whether the window is a phone's (below MudBlazor's sm breakpoint, as the CSS decides), so that the server renders
  // lists in the one layout shown (see NarrowCookie); kept as the window changes.
  var narrow = window.matchMedia ? window.matchMedia("(max-width: 599.98px)") : null;
  function keepNarrow() {
    document.cookie = "narrow=" + (narrow.matches ? "1" : "0") + "; path=/; max-age=31536000; samesite=lax";
  }
  if (narrow) {
    keepNarrow();
    if (narrow.addEventListener) { narrow.addEventListener("change", keepNarrow); }
  }

  // Tells a page (OnNarrow) whether the window is narrow, at once and whenever it changes. Returns a handle for stopNarrow.
  // A bool is all that crosses: no viewport service, and no serializer metadata for one, in every open circuit.
  var narrowWatchers = {};
  var nextNarrow = 0;
  function watchNarrow(dotnet) {
    var id = ++nextNarrow;
    var tell = function () { dotnet.invokeMethodAsync("OnNarrow", !!(narrow && narrow.matches)).catch(function () { }); };
    narrowWatchers[id] = tell;
    if (narrow && narrow.addEventListener) { narrow.addEventListener("change", tell); }
    tell();
    return id;
  }
  function stopNarrow(id) {
    if (narrowWatchers[id]) {
      if (narrow && narrow.removeEventListener) { narrow.removeEventListener("change", narrowWatchers[id]); }
      delete narrowWatchers[id];
    }
  }

  // Scrolls to a form field's box and focuses its input (the error summary's links).
  function focusField(id) {
    var box = document.getElementById(id);
    if (!box) { return; }
    var input = box.querySelector("input:not([type=hidden]):not([disabled]), textarea, select, [tabindex]:not([tabindex='-1'])");
    box.scrollIntoView({ block: "center" });
    (input || box).focus({ preventScroll: true });
  }

  // Single-key shortcuts of a page: the key goes to .NET (OnShortcut) unless the person is typing, a modifier is held,
  // or focus is in a dialog, list or menu. Returns a handle for stopShortcuts.
  var shortcuts = {};
  var nextShortcut = 0;
  function listenShortcuts(dotnet, keys) {
    var id = ++nextShortcut;
    shortcuts[id] = function (e) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing || keys.indexOf(e.key) < 0) { return; }
      var t = e.target;
      if (t && t.nodeType === 1 && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) ||
          t.closest("[role=dialog], [role=listbox], [role=menu], .mud-popover-open"))) { return; }
      if (document.querySelector(".mud-dialog-container")) { return; }
      e.preventDefault();
      dotnet.invokeMethodAsync("OnShortcut", e.key);
    };
    document.addEventListener("keydown", shortcuts[id]);
    return id;
  }
  function stopShortcuts(id) {
    if (shortcuts[id]) { document.removeEventListener("keydown", shortcuts[id]); delete shortcuts[id]; }
  }

  // Light or dark: the page's <html data-theme> selects the theme's variables (ThemeStyles). The server writes it from the
  // person's choice (the theme cookie); without one, the system's preference decides, here, before the body is drawn, and
  // again whenever the system changes. The app bar's toggle makes a choice: kept in the cookie, applied at once.
  var root = document.documentElement;
  var systemDark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var chosen = root.hasAttribute("data-theme");
  function followSystem() {
    if (!chosen) { root.setAttribute("data-theme", systemDark && systemDark.matches ? "dark" : "light"); }
  }
  followSystem();
  if (systemDark && systemDark.addEventListener) { systemDark.addEventListener("change", followSystem); }
  // Blazor's enhanced navigation patches <html>'s attributes from the next page, written without a choice: keep ours.
  new MutationObserver(function () {
    if (!root.hasAttribute("data-theme")) { followSystem(); }
  }).observe(root, { attributes: true, attributeFilter: ["data-theme"] });
  function setTheme(theme) {
    document.cookie = "theme=" + encodeURIComponent(theme) + "; path=/; max-age=31536000; samesite=lax";
    chosen = true;
    root.setAttribute("data-theme", theme);
  }
  function isDark() { return root.getAttribute("data-theme") === "dark"; }

  window.approvalStudio = Object.assign(window.approvalStudio || {}, {
    timeZone: timeZone, setTheme: setTheme, isDark: isDark, focusField: focusField, listenShortcuts: listenShortcuts, stopShortcuts: stopShortcuts,
    watchNarrow: watchNarrow, stopNarrow: stopNarrow,
  });
})();
