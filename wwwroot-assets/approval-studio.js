/*
 * Approval Studio browser client: follow a run's progress, or an inbox, over /hubs/executions.
 * Load signalr.min.js first (served at /assets/lib/signalr/signalr.min.js), then this file.
 *
 *   const follower = await ApprovalStudio.followExecution({
 *     baseUrl: "https://approvals.example.com",    // omit on the same origin
 *     executionId: "…",
 *     accessToken: () => myToken,                   // a string or a function returning one
 *     afterSequence: 0,                             // resume from a sequence you already have
 *     onEvent: e => console.log(e.sequence, e.type, e.nodeId, e.status, e.data),
 *     onConnection: state => console.log(state),   // optional: "reconnecting", "connected", "disconnected"
 *   });
 *   follower.lastSequence; await follower.stop();
 *
 * Every event is delivered once, in sequence order, with no gaps: events arriving twice (replay and
 * live overlap) are dropped, events arriving early wait for the ones before them, and a gap is filled
 * from the server. After a dropped connection the client reconnects and asks for what it missed.
 */
(function (global) {
  "use strict";

  // Tells options.onConnection when the link to the server drops, comes back, or is given up.
  function reportConnection(connection, options) {
    const report = state => { if (typeof options.onConnection === "function") options.onConnection(state); };
    connection.onreconnecting(() => report("reconnecting"));
    connection.onreconnected(() => report("connected"));
    connection.onclose(() => report("disconnected"));
  }

  function hubConnection(options) {
    const signalR = global.signalR;
    if (!signalR) {
      throw new Error("Load signalr.min.js before approval-studio.js.");
    }
    const base = (options.baseUrl || "").replace(/\/$/, "");
    const token = options.accessToken;
    return new signalR.HubConnectionBuilder()
      .withUrl(base + "/hubs/executions", { accessTokenFactory: typeof token === "function" ? token : () => token })
      .withAutomaticReconnect()
      .build();
  }

  async function followExecution(options) {
    if (!options || !options.executionId || typeof options.onEvent !== "function") {
      throw new Error("followExecution needs { executionId, accessToken, onEvent }.");
    }
    const connection = hubConnection(options);
    const early = new Map();
    let last = options.afterSequence || 0;
    let filling = false;

    function apply(event) {
      if (event.executionId !== options.executionId || event.sequence <= last) {
        return;
      }
      early.set(event.sequence, event);
      while (early.has(last + 1)) {
        const next = early.get(last + 1);
        early.delete(last + 1);
        last = next.sequence;
        options.onEvent(next);
      }
      if (early.size > 0) {
        fillGap();
      }
    }

    async function fillGap() {
      if (filling) {
        return;
      }
      filling = true;
      try {
        const missed = await connection.invoke("GetExecutionEvents", options.executionId, last);
        missed.forEach(apply);
      } catch (error) {
        if (options.onError) options.onError(error);
      } finally {
        filling = false;
      }
    }

    async function subscribe() {
      const missed = await connection.invoke("SubscribeExecution", options.executionId, last);
      missed.forEach(apply);
    }

    connection.on("ExecutionEvent", apply);
    reportConnection(connection, options);
    connection.onreconnected(() => subscribe().catch(error => options.onError && options.onError(error)));
    await connection.start();
    await subscribe();
    return {
      connection,
      get lastSequence() { return last; },
      stop: () => connection.stop(),
    };
  }

  async function followInbox(options) {
    if (!options || typeof options.onTaskCreated !== "function" || typeof options.onTaskResolved !== "function") {
      throw new Error("followInbox needs { accessToken, onTaskCreated, onTaskResolved }.");
    }
    const connection = hubConnection(options);
    connection.on("TaskCreated", options.onTaskCreated);
    connection.on("TaskResolved", options.onTaskResolved);
    reportConnection(connection, options);
    connection.onreconnected(() => connection.invoke("SubscribeInbox"));
    await connection.start();
    await connection.invoke("SubscribeInbox");
    return { connection, stop: () => connection.stop() };
  }

  global.ApprovalStudio = { followExecution, followInbox };
})(typeof window !== "undefined" ? window : globalThis);
