using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Slack;
using CsCheck;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// Properties of every resume route (CsCheck, one app for the class): random and mutated bodies and path parameters never get
/// a 5xx, every 4xx is problem+json, and an answer that is not accepted never consumes the task — it stays pending and is
/// answerable afterwards. A failure prints the seed that replays it (<c>CsCheck_Seed=…</c>) and the smallest failing case.
/// </summary>
public sealed class ResumeRoutePropertyTests(ResumeRoutePropertyTests.App app) : IClassFixture<ResumeRoutePropertyTests.App>
{
    private const string Agent = """
        {"key":"agent","start":"tools",
         "nodes":[{"id":"tools","type":"toolCall","tools":[{"name":"lookup","arguments":{"q":"{{input.q}}"}}]},
                  {"id":"done","type":"set","values":{"answer":"tools"}}],
         "edges":[{"from":"tools","to":"done"}]}
        """;

    private const string Hook = """
        {"key":"hook","start":"each","nodes":[{"id":"each","type":"forEach","items":"[1, 2]","body":"wait"},{"id":"wait","type":"wait"}],"edges":[]}
        """;

    private const string Breaks = """
        {"key":"breaks","start":"prep","nodes":[{"id":"prep","type":"set","values":{"n":"1"}},{"id":"boom","type":"fail","message":"boom"}],
         "edges":[{"from":"prep","to":"boom"}]}
        """;

    /// <summary>The app every property of the class talks to, with the workflows they answer.</summary>
    public sealed class App : IAsyncLifetime
    {
        public AppHost Host { get; private set; } = null!;
        public SlackStandIn Slack { get; private set; } = null!;
        public HttpClient Admin { get; private set; } = null!;
        public HttpClient ApiKey { get; private set; } = null!;
        public string HookSecret { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Slack = await SlackStandIn.StartAsync();
            Host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
            {
                ["Slack:SigningSecret"] = SlackStandIn.SigningSecret,
                // What these properties test is bodies and paths, not rate limits (RateLimitTests, on main since 08196ee): off,
                // so that a longer run (more iterations) is not cut short by 429s.
                ["RateLimits:Enabled"] = "false",
            });
            Admin = Host.Admin();
            foreach (var flow in new[] { Flows.Review, Flows.Approval, Flows.Form, Agent, Breaks })
            {
                await Host.CreateWorkflowAsync(flow);
            }

            using (var created = await Admin.PostJsonAsync("/api/workflows", Hook))
            {
                HookSecret = (string)(await created.ReadJsonAsync())!["webhookSecret"]!;
            }

            using (var created = await Admin.PostJsonAsync("/api/api-keys", """{"name":"agent runtime"}"""))
            {
                ApiKey = new HttpClient { BaseAddress = Host.Address };
                ApiKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", (string)(await created.ReadJsonAsync())!["key"]!);
            }

            using var mia = await Admin.PutAsync("/api/users/mia", AppHost.Json("""{"name":"Mia","groups":[],"slackUserId":"U0MIA"}"""));
            Assert.True(mia.IsSuccessStatusCode, await mia.Content.ReadAsStringAsync());
        }

        public async Task DisposeAsync()
        {
            Admin.Dispose();
            ApiKey.Dispose();
            await Host.DisposeAsync();
            await Slack.DisposeAsync();
        }

        /// <summary>A new run of <paramref name="key"/> and its first task.</summary>
        public async Task<(string Run, string ResId)> WaitingAsync(string key, string input = "{}")
        {
            var run = await Host.StartRunAsync(key, input);
            return (run, await Host.WaitForTaskAsync(run));
        }
    }

    private readonly AppHost _host = app.Host;

    /// <summary>Whether the task is still pending, as GET /api/tasks/{resId} lists it.</summary>
    private async Task<bool> PendingAsync(string resId)
    {
        var task = await Answer.SendAsync(app.Admin, HttpMethod.Get, $"/api/tasks/{resId}", null);
        Assert.Equal(200, task.Status);
        return (string?)task.Json!["status"] == "Pending";
    }

    /// <summary>A task of one kind that a property answers; replaced by a new one when an answer was accepted.</summary>
    private sealed class Target(string key, string input, JsonObject valid, HttpClient assignee)
    {
        public string Key { get; } = key;
        public string Input { get; } = input;
        public JsonObject Valid { get; } = valid;
        public HttpClient Assignee { get; } = assignee;
        public string ResId { get; set; } = string.Empty;
    }

    private sealed record ApiCase(int Target, Body Body, int Actor, string? ResId)
    {
        public override string ToString() => $"target {Target}, actor {Actor}, resId {ResId ?? "(the task's)"}: {Body}";
    }

    [Fact]
    public async Task The_resume_route_never_answers_5xx_and_a_refused_answer_never_consumes_the_task()
    {
        var targets = new Target[]
        {
            new("review-flow", """{"doc":"Q3"}""", new JsonObject { ["acknowledged"] = true, ["comment"] = "seen" }, _host.Client(_host.Token("ann", ["ops"]))),
            new("approval-flow", """{"amount":75}""", new JsonObject { ["decision"] = "Rejected", ["comment"] = "too much" }, _host.Client(_host.Token("mia"))),
            new("form-flow", "{}", new JsonObject { ["employeeName"] = "Ann", ["startDate"] = "2025-01-31", ["salary"] = 1000, ["notes"] = "ü" },
                _host.Client(_host.Token("hal", ["hr"]))),
            // A tool-call task has no assignees: an admin answers it on this route.
            new("agent", """{"q":"plan"}""", new JsonObject { ["toolOutputs"] = new JsonObject { ["lookup"] = new JsonObject { ["ok"] = true } } }, app.Admin),
        };
        foreach (var target in targets)
        {
            target.ResId = (await app.WaitingAsync(target.Key, target.Input)).ResId;
        }

        // Whoever answers: the admin, the assignee, someone else of the tenant, someone of another tenant.
        var others = new[] { _host.Client(_host.Token("eve", ["sales"])), _host.Client(_host.Token("ann", ["ops"], tenant: "globex")) };
        var bodies = targets.Select(t => Gen.Frequency((1, Bodies.Random), (3, Bodies.Mutated(t.Valid)))).ToArray();
        var cases = Gen.Int[0, targets.Length - 1].SelectMany(t => Gen.Select(
            bodies[t],
            Gen.Int[0, 3],
            Gen.Frequency((6, Gen.Const((string?)null)), (1, Bodies.PathParameter.Select(p => (string?)p))),
            (body, actor, resId) => new ApiCase(t, body, actor, resId)));

        await cases.SampleAsync(async c =>
        {
            var target = targets[c.Target];
            var client = c.Actor switch { 0 => app.Admin, 1 => target.Assignee, _ => others[c.Actor - 2] };
            var answer = await Answer.SendAsync(client, HttpMethod.Post, $"/api/executions/{Bodies.Segment(c.ResId ?? target.ResId)}/resume", c.Body);
            var consumed = !await PendingAsync(target.ResId);
            if (consumed)
            {
                target.ResId = (await app.WaitingAsync(target.Key, target.Input)).ResId;
            }

            answer.AssertWellFormed(c);
            answer.AssertNotUtf8IsRefused(c.Body);
            Assert.True(consumed == (answer.Status == 202), consumed ? $"Answered {answer.Status} {answer.Text} but consumed the task: {c}" : $"Accepted but the task is still pending: {c}");
            Assert.True(answer.Status != 202 || c.ResId is null, $"Accepted for another resId: {c}");
        }, iter: 150, threads: 1);

        foreach (var target in targets)
        {
            using var accepted = await target.Assignee.PostJsonAsync($"/api/executions/{target.ResId}/resume", target.Valid.ToJsonString());
            Assert.Equal(202, (int)accepted.StatusCode);
        }
    }

    private sealed record WebhookCase(Body Body, string? Run, string? Node, int Secret)
    {
        public override string ToString() => $"run {Run ?? "(the run's)"}, node {Node ?? "(wait)"}, secret {Secret}: {Body}";
    }

    [Fact]
    public async Task The_webhook_route_never_answers_5xx_and_a_refused_resume_never_consumes_the_wait()
    {
        var run = await StartHookAsync();
        var valid = JsonNode.Parse("""{"data":{"v":1},"stack":[{"parentNodeId":"each","index":0,"total":2}]}""")!.AsObject();
        var legacy = JsonNode.Parse("""{"data":"x","forEachContext":{"parentNodeId":"each","index":1}}""")!.AsObject();
        var junk = Bodies.PathParameter.Select(p => (string?)p);
        var cases = Gen.Select(
            Gen.Frequency((1, Bodies.Random), (3, Bodies.Mutated(valid)), (1, Bodies.Mutated(legacy))),
            Gen.Frequency((8, Gen.Const((string?)null)), (1, junk)),
            Gen.Frequency((8, Gen.Const((string?)null)), (1, Gen.OneOf<string?>("each", "Wait", "wait ")), (1, junk)),
            Gen.Frequency((8, Gen.Const(0)), (1, Gen.Int[1, 3])),
            (body, r, node, secret) => new WebhookCase(body, r, node, secret));

        await cases.SampleAsync(async c =>
        {
            var secret = c.Secret switch { 0 => $"?secret={Uri.EscapeDataString(app.HookSecret)}", 1 => string.Empty, 2 => "?secret=wrong", _ => "?secret=%ED%A0%80" };
            var answer = await Answer.SendAsync(_host.Anonymous, HttpMethod.Post,
                $"/v1/runs/{Bodies.Segment(c.Run ?? run.Id)}/nodes/{Bodies.Segment(c.Node ?? "wait")}/resume{secret}", c.Body);
            var consumed = 0;
            foreach (var resId in run.Waits)
            {
                consumed += await PendingAsync(resId) ? 0 : 1;
            }

            if (consumed > 0)
            {
                run = await StartHookAsync();
            }

            answer.AssertWellFormed(c);
            var resumed = answer.Status == 200 && (string?)answer.Json!["action"] == "resumed";
            Assert.True(consumed == (resumed ? 1 : 0), $"Answered {answer.Status} {answer.Text} and {consumed} wait(s) consumed: {c}");
        }, iter: 100, threads: 1);

        var last = await Answer.SendAsync(_host.Anonymous, HttpMethod.Post, $"/v1/runs/{run.Id}/nodes/wait/resume?secret={Uri.EscapeDataString(app.HookSecret)}",
            Body.Json(valid.ToJsonString()));
        Assert.Equal("resumed", (string?)last.Json!["action"]);
    }

    private async Task<(string Id, string[] Waits)> StartHookAsync()
    {
        var run = await _host.StartRunAsync("hook");
        var status = await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 2);
        return (run, [.. status["waiting"]!.AsArray().Select(w => (string)w!["resId"]!)]);
    }

    private sealed record ResumeFromCase(int Run, string? JunkRun, int Node, string? JunkNode, Body Body)
    {
        public override string ToString() => $"run {JunkRun ?? Run.ToString(CultureInfo.InvariantCulture)}, node {JunkNode ?? Node.ToString(CultureInfo.InvariantCulture)}: {Body}";
    }

    [Fact]
    public async Task The_resume_from_route_never_answers_5xx_and_leaves_the_runs_it_is_given_alone()
    {
        var failed = await _host.StartRunAsync("breaks");
        await _host.WaitForAsync(failed, s => (string?)s["status"] == "Failed");
        var (suspended, resId) = await app.WaitingAsync("review-flow", """{"doc":"Q4"}""");
        var runs = new[] { failed, suspended };
        var nodes = new[] { "prep", "boom", "ask" };
        var junk = Bodies.PathParameter.Select(p => (string?)p);
        var cases = Gen.Select(
            Gen.Int[0, 1], Gen.Frequency((3, Gen.Const((string?)null)), (1, junk)),
            Gen.Int[0, 2], Gen.Frequency((3, Gen.Const((string?)null)), (1, junk)),
            Bodies.Random,
            (run, junkRun, node, junkNode, body) => new ResumeFromCase(run, junkRun, node, junkNode, body));

        var nodeRuns = await NodeRunsAsync(failed);
        using var ops = _host.Client(_host.Token("ops"));
        var started = 0;
        await cases.SampleAsync(async c =>
        {
            var answer = await Answer.SendAsync(ops, HttpMethod.Post,
                $"/workflows/runs/{Bodies.Segment(c.JunkRun ?? runs[c.Run])}/resume-from/{Bodies.Segment(c.JunkNode ?? nodes[c.Node])}", c.Body);
            var consumed = !await PendingAsync(resId);
            if (consumed)
            {
                (_, resId) = await app.WaitingAsync("review-flow", """{"doc":"Q4"}""");
            }

            answer.AssertWellFormed(c);
            Assert.False(consumed, $"Resume-from consumed a task of a suspended run: {c}");
            Assert.Equal("Failed", (string?)(await _host.StatusAsync(failed))["status"]);
            if (answer.Status == 200)
            {
                Assert.True((c.JunkRun, c.Run, c.JunkNode, c.Node) == (null, 0, null, 0), $"Only a failed run's completed node is resumed from: {c}");
                started++;
            }
        }, iter: 100, threads: 1);

        Assert.True(started > 0, "No case resumed the failed run from its completed node: the cases never reached the route's work.");
        Assert.Equal(nodeRuns, await NodeRunsAsync(failed));
    }

    private async Task<string> NodeRunsAsync(string run)
    {
        await using var db = _host.Database.OpenContext();
        var rows = await db.NodeRuns.Where(r => r.ExecutionId == run).OrderBy(r => r.Id).Select(r => r.NodeId + ":" + r.Status).ToListAsync();
        return string.Join(", ", rows);
    }

    private sealed record DispatchCase(Body Body, int Client)
    {
        public override string ToString() => $"client {Client}: {Body}";
    }

    [Fact]
    public async Task The_dispatch_route_never_answers_5xx_and_a_refused_answer_never_consumes_the_tool_calls()
    {
        var (run, resId) = await app.WaitingAsync("agent", """{"q":"plan"}""");
        var (other, _) = await app.WaitingAsync("review-flow", """{"doc":"Q1"}""");
        JsonObject Valid(string executionId, bool stream) => new()
        {
            ["executionId"] = executionId, ["toolOutputs"] = new JsonObject { ["lookup"] = new JsonObject { ["hits"] = 3 } },
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "go" }), ["streamResponse"] = stream,
        };

        // The generators hold the run's id; a new run (after an accepted answer) is written over it in the bodies.
        var placeholder = "RUN-ID-PLACEHOLDER";
        var cases = Gen.Select(
            Gen.Frequency((1, Bodies.Random), (3, Bodies.Mutated(Valid(placeholder, false))), (1, Bodies.Mutated(Valid(placeholder, true))),
                (1, Bodies.Mutated(Valid(other, false)))),
            Gen.Int[0, 1],
            (body, client) => new DispatchCase(body, client));

        await cases.SampleAsync(async c =>
        {
            var body = c.Body with { Bytes = Replace(c.Body.Bytes, placeholder, run) };
            var answer = await Answer.SendAsync(c.Client == 0 ? app.ApiKey : app.Admin, HttpMethod.Post, "/v1/dispatch/resume", body);
            var consumed = !await PendingAsync(resId);
            if (consumed)
            {
                (run, resId) = await app.WaitingAsync("agent", """{"q":"plan"}""");
            }

            answer.AssertWellFormed(c);
            answer.AssertNotUtf8IsRefused(body);
            Assert.True(consumed == (answer.Status == 200), consumed ? $"Answered {answer.Status} {answer.Text} but consumed the task: {c}" : $"Answered 200 but the task is still pending: {c}");
        }, iter: 100, threads: 1);

        var last = await Answer.SendAsync(app.ApiKey, HttpMethod.Post, "/v1/dispatch/resume", Body.Json(Valid(run, false).ToJsonString()));
        Assert.Equal(200, last.Status);
    }

    private static byte[] Replace(byte[] bytes, string from, string to)
    {
        var needle = Encoding.UTF8.GetBytes(from);
        var replacement = Encoding.UTF8.GetBytes(to);
        var result = new List<byte>(bytes.Length);
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes.AsSpan(i).StartsWith(needle))
            {
                result.AddRange(replacement);
                i += needle.Length - 1;
            }
            else
            {
                result.Add(bytes[i]);
            }
        }

        return [.. result];
    }

    private sealed record SlackCase(Body Payload, int Form, int Signature)
    {
        public override string ToString() => $"form {Form}, signature {Signature}: {Payload}";
    }

    [Fact]
    public async Task The_slack_route_never_answers_5xx_and_only_a_real_press_consumes_the_task()
    {
        var (_, resId) = await app.WaitingAsync("approval-flow", """{"amount":75}""");
        var placeholder = "RES-ID-PLACEHOLDER";
        var press = app.Slack.Press("U0MIA", "approve", placeholder, "fuzz");
        var cases = Gen.Select(
            Gen.Frequency((1, Bodies.Random), (4, Bodies.Mutated(press))),
            Gen.Frequency((8, Gen.Const(0)), (1, Gen.Int[1, 3])),
            Gen.Frequency((8, Gen.Const(0)), (1, Gen.Int[1, 3])),
            (payload, form, signature) => new SlackCase(payload, form, signature));

        var received = 0;
        await cases.SampleAsync(async c =>
        {
            var payload = Replace(c.Payload.Bytes, placeholder, resId);
            byte[] body = c.Form switch
            {
                0 => [.. "payload="u8, .. FormEncoded(payload)],
                1 => payload,
                2 => [.. "payload="u8, .. payload],
                _ => [.. "other="u8, .. FormEncoded(payload)],
            };
            var timestamp = DateTimeOffset.UtcNow.AddMinutes(c.Signature == 2 ? -30 : 0).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            // A bad signature, an old or unreadable timestamp; the same body signed twice in one second is a replay (a 409).
            var signature = c.Signature == 1 ? "v0=" + new string('0', 64) : SlackSignature.Sign(SlackStandIn.SigningSecret, timestamp, body);
            var answer = await Answer.SendAsync(_host.Anonymous, HttpMethod.Post, "/integrations/slack/interactions",
                new Body(body, "application/x-www-form-urlencoded"),
                request =>
                {
                    request.Headers.Add("X-Slack-Request-Timestamp", c.Signature == 3 ? "soon" : timestamp);
                    request.Headers.Add("X-Slack-Signature", signature);
                });
            var pressed = resId;
            var consumed = !await PendingAsync(resId);
            if (consumed)
            {
                (_, resId) = await app.WaitingAsync("approval-flow", """{"amount":75}""");
            }

            answer.AssertWellFormed(c);
            received += answer.Status == 200 ? 1 : 0;
            if (consumed)
            {
                // Only by a signed press of Approve on this task by Mia's Slack account.
                var sent = JsonNode.Parse(Encoding.UTF8.GetString(payload));
                Assert.True(answer.Status == 200 && c.Signature == 0 && (c.Form is 0 or 2) && (string?)sent!["type"] == "block_actions"
                    && (string?)sent["actions"]![0]!["action_id"] == "approve" && (string?)sent["actions"]![0]!["value"] == pressed
                    && (string?)sent["user"]!["id"] == "U0MIA", $"The task was consumed by {c}");
            }
        }, iter: 100, threads: 1);

        Assert.True(received > 0, "No interaction was taken at all: the cases test nothing past the signature.");
    }

    private static byte[] FormEncoded(byte[] bytes) =>
        Encoding.ASCII.GetBytes(string.Concat(bytes.Select(b => char.IsAsciiLetterOrDigit((char)b) ? ((char)b).ToString() : $"%{b:X2}")));

    private sealed record LinkCase(bool Create, Body Body, int Token, int Where, string? Via)
    {
        public override string ToString() => Create ? $"create: {Body}" : $"open: token change {Token} at {Where}, via {Via}";
    }

    [Fact]
    public async Task Deep_links_never_answer_5xx_and_neither_opening_nor_making_one_consumes_the_task()
    {
        var (_, resId) = await app.WaitingAsync("approval-flow", """{"amount":75}""");
        using var created = await app.Admin.PostJsonAsync($"/api/tasks/{resId}/links", """{"userId":"mia"}""");
        var link = new Uri((string)(await created.ReadJsonAsync())!["url"]!);
        var token = link.AbsolutePath["/links/".Length..];
        var cases = Gen.Select(
            Gen.Frequency((1, Gen.Const(false)), (1, Gen.Const(true))),
            Gen.Frequency((1, Bodies.Random), (2, Bodies.Mutated(new JsonObject { ["userId"] = "mia" }))),
            Gen.Int[0, 5], Gen.Int[0, 10_000], Gen.OneOf<string?>(null, "slack", "email", "%ZZ", "😀"),
            (create, body, change, where, via) => new LinkCase(create, body, change, where, via));

        await cases.SampleAsync(async c =>
        {
            Answer answer;
            if (c.Create)
            {
                answer = await Answer.SendAsync(app.Admin, HttpMethod.Post, $"/api/tasks/{resId}/links", c.Body);
            }
            else
            {
                var at = c.Where % token.Length;
                var changed = c.Token switch
                {
                    0 => token,
                    1 => token[..Math.Max(at, 1)],
                    2 => token[..at] + (token[at] == 'A' ? 'B' : 'A') + token[(at + 1)..],
                    3 => token + "x",
                    4 => string.Join('.', token.Split('.').Reverse()),
                    _ => Bodies.Segment(Bodies.Routable(Encoding.UTF8.GetString(c.Body.Bytes[..Math.Min(c.Body.Bytes.Length, 300)]))) is { Length: > 0 } junk ? junk : "x",
                };
                var via = c.Via is null ? string.Empty : $"?via={Bodies.Segment(c.Via)}";
                answer = await Answer.SendAsync(_host.Anonymous, HttpMethod.Get, $"/links/{changed}{via}", null, request => request.Headers.Add("Accept", "text/html"));
            }

            // Neither opening a link (whatever its token) nor making one decides anything.
            Assert.True(await PendingAsync(resId), $"The task was consumed by {c}");
            answer.AssertWellFormed(c, page: !c.Create);
            Assert.True(c.Create || answer.Status == 200, $"A link page answered {answer.Status}: {c}");
        }, iter: 100, threads: 1);
    }
}
