using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Json;
using CsCheck;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// Properties of the two routes that take a definition and an input (CsCheck, one app for the class): random and mutated
/// bodies never get a 5xx, every 4xx is problem+json naming the field, and a refused body changes nothing — no version
/// saved, no run started. A failure prints the seed that replays it (<c>CsCheck_Seed=…</c>) and the smallest failing case.
/// </summary>
public sealed class WorkflowsApiPropertyTests(WorkflowsApiPropertyTests.App app) : IClassFixture<WorkflowsApiPropertyTests.App>
{
    private const string Noop = """{"key":"noop","start":"s","nodes":[{"id":"s","type":"set","values":{"x":"input.x"}}]}""";

    /// <summary>The app every property of the class talks to.</summary>
    public sealed class App : IAsyncLifetime
    {
        public AppHost Host { get; private set; } = null!;
        public HttpClient Admin { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            // What these properties test is bodies and paths, not rate limits (RateLimitTests, on main since 08196ee).
            Host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" });
            Admin = Host.Admin();
            await Host.CreateWorkflowAsync(Noop);
        }

        public async Task DisposeAsync()
        {
            Admin.Dispose();
            await Host.DisposeAsync();
        }
    }

    private async Task<(int Versions, int Runs)> CountAsync()
    {
        await using var db = app.Host.Database.OpenContext();
        return (await db.WorkflowVersions.CountAsync(), await db.Executions.CountAsync());
    }

    [Fact]
    public async Task Creating_a_workflow_never_answers_5xx_and_saves_exactly_what_the_parser_accepts()
    {
        var valid = new[] { Flows.Review, Flows.Approval, Flows.Form, Noop }.Select(f => JsonNode.Parse(f)!.AsObject()).ToArray();
        var cases = Gen.Frequency((1, Bodies.Random), (4, Gen.Int[0, valid.Length - 1].SelectMany(i => Bodies.Mutated(valid[i]))));

        var created = 0;
        await cases.SampleAsync(async body =>
        {
            var before = await CountAsync();
            var answer = await Answer.SendAsync(app.Admin, HttpMethod.Post, "/api/workflows", body);
            var after = await CountAsync();

            answer.AssertWellFormed(body);
            answer.AssertNotUtf8IsRefused(body);
            Assert.True(after.Versions == before.Versions + (answer.Status == 201 ? 1 : 0), $"{answer.Status}, versions {before.Versions} → {after.Versions}: {body}");
            if (answer.Status is 201 or 400 && Readable(body) is { } json)
            {
                // The server and the parser agree on what is a definition.
                var (definition, problems) = DefinitionParser.Parse(json);
                Assert.True((definition is not null) == (answer.Status == 201), $"{answer.Status} {answer.Text}, the parser: {string.Join("; ", problems)}\nfor {body}");
            }

            created += answer.Status == 201 ? 1 : 0;
        }, iter: 200, threads: 1);

        Assert.True(created > 0, "No case created a workflow: the mutations never leave a definition valid, so the cases test only refusals.");
    }

    private sealed record StartCase(string? Key, Body Body)
    {
        public override string ToString() => $"key {Key ?? "noop"}: {Body}";
    }

    [Fact]
    public async Task Starting_a_run_never_answers_5xx_and_a_refused_start_starts_nothing()
    {
        var cases = Gen.Select(
            Gen.Frequency((6, Gen.Const((string?)null)), (1, Bodies.PathParameter.Select(p => (string?)p))),
            Gen.Frequency((1, Bodies.Random), (3, Bodies.Mutated(new JsonObject { ["input"] = new JsonObject { ["x"] = 1, ["list"] = new JsonArray(1, "two") } }))),
            (key, body) => new StartCase(key, body));

        using var starter = app.Host.Client(app.Host.Token("starter"));
        await cases.SampleAsync(async c =>
        {
            var before = await CountAsync();
            var answer = await Answer.SendAsync(starter, HttpMethod.Post,
                $"/api/workflows/{Bodies.Segment(c.Key ?? "noop")}/executions", c.Body);
            var after = await CountAsync();

            answer.AssertWellFormed(c);
            answer.AssertNotUtf8IsRefused(c.Body);
            Assert.True(after.Runs == before.Runs + (answer.Status == 202 ? 1 : 0), $"{answer.Status}, runs {before.Runs} → {after.Runs}: {c}");
            if (answer.Status == 202)
            {
                // Started only with nothing, or an object whose input (if any) is an object.
                var json = Readable(c.Body);
                Assert.True(c.Body.Bytes.All(b => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') || json is null
                    || (json is JsonObject o && o["input"] is null or JsonObject), $"Started with {c}");
            }
        }, iter: 200, threads: 1);
    }

    /// <summary>The body as JSON when it is readable JSON sent as JSON (else null).</summary>
    private static JsonNode? Readable(Body body)
    {
        try
        {
            return body.ContentType?.StartsWith("application/json", StringComparison.Ordinal) == true
                ? JsonNode.Parse(new UTF8Encoding(false, true).GetString(body.Bytes)) is var json && UnreadableJson.Find(json) is null ? json : null
                : null;
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException or InvalidOperationException)
        {
            return null;
        }
    }
}
