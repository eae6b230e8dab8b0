using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Errors;
using Microsoft.AspNetCore.Http;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// Bodies of a fixed shape are read into typed records in one place (Problems.ReadBodyAsync): a field of the wrong type, a
/// required field missing and a number given as a string are each a 400 naming the field; fields nobody asked for are ignored;
/// an absent body reads as <c>{}</c>; and the OpenAPI document shows each record's shape.
/// </summary>
public sealed class TypedBodyTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Flows.Review);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string, string, string, string> WrongTypes => new()
    {
        { "POST", "/v1/dispatch/resume", """{"executionId":"x","streamResponse":"true"}""", "streamResponse", "streamResponse is true or false." },
        { "POST", "/v1/dispatch/resume", """{"executionId":"x","messages":{"role":"user"}}""", "messages", "messages is an array." },
        { "POST", "/v1/dispatch/resume", """{"executionId":"x","toolOutputs":[1]}""", "toolOutputs", "toolOutputs is an object." },
        { "POST", "/v1/dispatch/resume", """{"executionId":42}""", "executionId", "executionId is a string." },
        { "POST", "/api/api-keys", """{"name":["bot"]}""", "name", "name is a string." },
        { "POST", "/api/workflows/review-flow/executions", """{"input":"text"}""", "input", "input is an object." },
        { "POST", "/api/workflows/review-flow/webhook-secret/rotate", """{"gracePeriod":1}""", "gracePeriod", "gracePeriod is a string." },
        { "PUT", "/api/message-templates/email.subject", """{"source":true}""", "source", "source is a string." },
        { "PUT", "/api/users/zed", """{"name":"Zed","groups":["ops",7]}""", "groups[1]", "groups is an array of strings." },
    };

    [Theory]
    [MemberData(nameof(WrongTypes))]
    public async Task A_field_of_the_wrong_type_is_a_400_naming_it_and_saying_what_it_is(string method, string path, string body, string field, string message)
    {
        var (status, problem, type) = await AppHost.SendAsync(_host.Admin(), new HttpMethod(method), path, body);

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {problem?.ToJsonString()}");
        Assert.Equal("application/problem+json", type);
        Assert.Equal([message], problem!["errors"]![field]!.AsArray().Select(m => (string?)m));
    }

    public static TheoryData<string, string, string?, string, string> MissingRequired => new()
    {
        { "POST", "/v1/dispatch/resume", """{"toolOutputs":{}}""", "executionId", "executionId is required." },
        { "POST", "/v1/dispatch/resume", null, "executionId", "executionId is required." },
        { "POST", "/v1/dispatch/resume", """{"executionId":""}""", "executionId", "executionId is required." },
        { "POST", "/api/api-keys", "{}", "name", "name is required (1–200 characters): say who or what uses the key." },
        { "POST", "/api/api-keys", $$"""{"name":"{{new string('k', 201)}}"}""", "name", "name is required (1–200 characters): say who or what uses the key." },
        { "PUT", "/api/message-templates/email.subject", """{"source":null}""", "source", "source is the template's Liquid text." },
    };

    [Theory]
    [MemberData(nameof(MissingRequired))]
    public async Task A_required_field_missing_or_out_of_bounds_is_a_400_naming_it(string method, string path, string? body, string field, string message)
    {
        var (status, problem, type) = await AppHost.SendAsync(_host.Admin(), new HttpMethod(method), path, body);

        Assert.True(status == HttpStatusCode.BadRequest, $"{(int)status} {problem?.ToJsonString()}");
        Assert.Equal("application/problem+json", type);
        Assert.Equal([message], problem!["errors"]![field]!.AsArray().Select(m => (string?)m));
    }

    [Fact]
    public async Task A_link_for_a_blank_user_is_a_400_naming_userId()
    {
        var resId = await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow", """{"doc":"Q3"}"""));

        var (status, problem, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, $"/api/tasks/{resId}/links", """{"userId":"  "}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("userId names the assignee the link is for.", (string?)problem!["errors"]!["userId"]![0]);
    }

    [Fact]
    public async Task Fields_nobody_asked_for_are_ignored()
    {
        var (status, body, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/api/api-keys", """{"name":"bot","extra":[1,{"x":"\u00e9"}],"scope":null}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("bot", (string?)body!["name"]);

        // Past the body's checks to the run lookup: the unknown run is what is refused.
        var (notFound, _, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/v1/dispatch/resume", """{"executionId":"nope","retry":"yes"}""");
        Assert.Equal(HttpStatusCode.NotFound, notFound);
    }

    [Fact]
    public async Task An_optional_body_may_be_absent_and_a_body_that_is_not_an_object_names_the_shape()
    {
        var (started, _, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/api/workflows/review-flow/executions");
        Assert.Equal(HttpStatusCode.Accepted, started);

        var (status, problem, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/v1/dispatch/resume", """["executionId"]""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The body is a JSON object {executionId, toolOutputs?, messages?, streamResponse?}.", (string?)problem!["errors"]!["$"]![0]);
    }

    private sealed record Counted([property: Range(1, 10, ErrorMessage = "count is 1 to 10.")] int? Count, bool? Flag = null);

    [Theory]
    [InlineData("""{"count":3}""", null, null)]
    [InlineData("""{"COUNT":3,"other":"x"}""", null, null)]
    [InlineData("""{"count":"3"}""", "count", "count is an integer.")]
    [InlineData("""{"count":3.5}""", "count", "count is an integer.")]
    [InlineData("""{"count":11}""", "count", "count is 1 to 10.")]
    [InlineData("""{"count":1,"Count":3}""", "count", "count is given twice (in different case); a field appears once.")]
    [InlineData("""{"count":1,"flag":"true"}""", "flag", "flag is true or false.")]
    [InlineData("""{"count":1,"flag":1}""", "flag", "flag is true or false.")]
    public async Task The_helper_reads_with_the_app_json_options_and_refuses_a_number_given_as_a_string(string json, string? field, string? message)
    {
        var context = new DefaultHttpContext { RequestServices = _host.Services };
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = bytes.Length;
        context.Request.Body = new MemoryStream(bytes);

        var (body, problem) = await Problems.ReadBodyAsync<Counted>(context.Request, "{count}", CancellationToken.None);

        if (field is null)
        {
            Assert.Null(problem);
            Assert.Equal(3, body!.Count);
            return;
        }

        Assert.Null(body);
        var errors = ((HttpValidationProblemDetails)problem!.ProblemDetails).Errors;
        Assert.Equal([message!], errors[field!]);
    }

    [Fact]
    public async Task The_document_shows_each_typed_body_and_its_required_fields()
    {
        var json = JsonNode.Parse(await _host.Anonymous.GetStringAsync("/openapi/v1.json"))!;
        var schemas = json["components"]!["schemas"]!;

        JsonNode Body(string path, string method) => json["paths"]![path]![method]!["requestBody"]!["content"]!["application/json"]!["schema"]!;
        Assert.Equal("#/components/schemas/DispatchResumeRequest", (string?)Body("/v1/dispatch/resume", "post")["$ref"]);
        Assert.Equal("#/components/schemas/ApiKeyRequest", (string?)Body("/api/api-keys", "post")["$ref"]);
        Assert.Equal("#/components/schemas/StartRunRequest", (string?)Body("/api/workflows/{key}/executions", "post")["$ref"]);

        var dispatch = schemas["DispatchResumeRequest"]!;
        Assert.Equal(["executionId", "toolOutputs", "messages", "streamResponse"], dispatch["properties"]!.AsObject().Select(p => p.Key));
        Assert.Contains("executionId", dispatch["required"]!.AsArray().Select(r => (string?)r));
        Assert.Contains("name", schemas["ApiKeyRequest"]!["required"]!.AsArray().Select(r => (string?)r));
        Assert.Contains("userId", schemas["DeepLinkRequest"]!["required"]!.AsArray().Select(r => (string?)r));
        Assert.Contains("source", schemas["MessageTemplateInput"]!["required"]!.AsArray().Select(r => (string?)r));
        Assert.NotNull(schemas["RotateSecretRequest"]!["properties"]!["gracePeriod"]);
    }
}
