using System.Net;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// /openapi/v1.json reads and validates as OpenAPI, declares how to authenticate, and tells the truth about every answer:
/// every AppHost checks what it answered against it when it stops (<see cref="ApiAnswers"/>); these tests check the checker.
/// </summary>
public sealed class OpenApiDocumentTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync() => _host = await AppHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_document_reads_and_validates_without_errors()
    {
        var document = await ApiAnswers.DocumentAsync(_host.Anonymous);

        var errors = document.Validate(ValidationRuleSet.GetDefaultRuleSet()).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.True(document.Paths.Count >= 20, $"only {document.Paths.Count} paths");
    }

    [Fact]
    public async Task Signed_in_operations_declare_the_bearer_and_api_key_schemes_and_401_403_429_and_anonymous_ones_do_not()
    {
        var json = JsonNode.Parse(await _host.Anonymous.GetStringAsync("/openapi/v1.json"))!;
        var schemes = json["components"]!["securitySchemes"]!;
        Assert.Equal(("http", "bearer"), ((string?)schemes["Bearer"]!["type"], (string?)schemes["Bearer"]!["scheme"]));
        Assert.Equal(("apiKey", "header", "Authorization"), ((string?)schemes["ApiKey"]!["type"], (string?)schemes["ApiKey"]!["in"], (string?)schemes["ApiKey"]!["name"]));

        var resume = json["paths"]!["/api/executions/{executionResId}/resume"]!["post"]!;
        Assert.Equal(["Bearer", "ApiKey"], resume["security"]!.AsArray().SelectMany(r => r!.AsObject().Select(p => p.Key)));
        Assert.Superset(new HashSet<string> { "202", "400", "401", "403", "404", "409", "410", "415", "429", "500" }, Responses(resume));
        Assert.Equal("integer", (string?)resume["responses"]!["429"]!["headers"]!["Retry-After"]!["schema"]!["type"]);
        Assert.Equal("integer", (string?)resume["responses"]!["503"]!["headers"]!["Retry-After"]!["schema"]!["type"]);

        var webhook = json["paths"]!["/v1/runs/{id}/nodes/{nodeId}/resume"]!["post"]!;
        Assert.Null(webhook["security"]);
        Assert.Contains("429", Responses(webhook));
    }

    private static HashSet<string> Responses(JsonNode operation) => operation["responses"]!.AsObject().Select(r => r.Key).ToHashSet();

    [Fact]
    public async Task Any_json_is_an_open_schema_and_numbers_are_numbers()
    {
        var text = await _host.Anonymous.GetStringAsync("/openapi/v1.json");
        var json = JsonNode.Parse(text)!;

        var schemas = json["components"]!["schemas"]!;
        Assert.Null(schemas["JsonNode"]);
        var output = schemas["NodeRunView"]!["properties"]!["output"]!.AsObject();
        Assert.Null(output["oneOf"]);
        Assert.Null(output["type"]);
        Assert.Equal("integer", (string?)schemas["ExecutionStatusView"]!["properties"]!["workflowVersion"]!["type"]);
        Assert.DoesNotContain("\"pattern\":\"^-?(?:0|[1-9]\\\\d*)$\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("{\"type\":\"null\"},{}", text.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_check_names_a_status_the_document_does_not_declare_and_an_api_route_it_does_not_list()
    {
        var answers = new ApiAnswers();
        answers.Seen("GET", "/api/tasks", 200);
        answers.Seen("GET", "/api/tasks", 418);
        answers.Seen("POST", "/api/not-documented", 200);
        answers.Seen("GET", "/signin", 200);

        var missing = await answers.UndocumentedAsync(_host.Anonymous);

        Assert.Equal(2, missing.Count);
        Assert.Contains(missing, m => m.StartsWith("GET /api/tasks answered 418", StringComparison.Ordinal));
        Assert.Contains(missing, m => m.StartsWith("POST /api/not-documented is not in /openapi/v1.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_recorder_sees_what_the_host_answers_by_route_template()
    {
        using var response = await _host.Anonymous.GetAsync("/api/workflows/some-key/versions/3");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        Assert.Contains(("GET", "/api/workflows/{key}/versions/{version}", 401), _host.Answers.Answered);
    }
}
