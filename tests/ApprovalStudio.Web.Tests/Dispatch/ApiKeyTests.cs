using System.Net;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Dispatch;

/// <summary>Tenant API keys: created by admins, shown once, stored hashed, accepted in Authorization, revocable.</summary>
public sealed class ApiKeyTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync() => _host = await AppHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<(string Id, string Key)> CreateKeyAsync(string tenant = AppHost.Tenant)
    {
        var (status, body, _) = await AppHost.SendAsync(_host.Admin(tenant), HttpMethod.Post, "/api/api-keys", """{"name":"agent runtime"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        return ((string)body!["id"]!, (string)body["key"]!);
    }

    private HttpClient Raw(string authorization)
    {
        var client = new HttpClient { BaseAddress = _host.Address };
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        return client;
    }

    [Fact]
    public async Task A_key_works_bare_or_as_a_bearer_token_within_its_tenant_and_is_stored_only_as_a_hash()
    {
        await _host.CreateWorkflowAsync(Api.Flows.Review);
        await _host.CreateWorkflowAsync(Api.Flows.Review, tenant: "globex");
        var run = await _host.StartRunAsync("review-flow");
        var foreign = await _host.StartRunAsync("review-flow", tenant: "globex");
        var (id, key) = await CreateKeyAsync();

        Assert.StartsWith("ask_", key);
        Assert.Equal(HttpStatusCode.OK, (await Raw(key).GetAsync($"/api/executions/{run}/status")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Raw($"Bearer {key}").GetAsync($"/api/executions/{run}/status")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Raw(key).GetAsync($"/api/executions/{foreign}/status")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Raw(key).PostAsync("/api/workflows", AppHost.Json(Api.Flows.Review))).StatusCode);

        var listed = await AppHost.SendAsync(_host.Admin(), HttpMethod.Get, "/api/api-keys");
        Assert.DoesNotContain(key, listed.Body!.ToJsonString());
        Assert.NotNull(listed.Body![0]!["lastUsedAt"]);
        await using var db = _host.Database.OpenContext();
        var stored = await db.ApiKeys.SingleAsync(k => k.Id == id);
        Assert.Equal(32, stored.Hash.Length);
    }

    [Fact]
    public async Task A_revoked_wrong_or_foreign_key_is_401()
    {
        var (id, key) = await CreateKeyAsync();
        Assert.Equal(HttpStatusCode.OK, (await Raw(key).GetAsync("/api/tasks")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await AppHost.SendAsync(_host.Admin(), HttpMethod.Delete, $"/api/api-keys/{id}")).Status);

        Assert.Equal(HttpStatusCode.Unauthorized, (await Raw(key).GetAsync("/api/tasks")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Raw(key[..^2] + "xx").GetAsync("/api/tasks")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Raw("ask_nothing").GetAsync("/api/tasks")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(_host.Admin("globex"), HttpMethod.Delete, $"/api/api-keys/{id}")).Status);
    }

    [Fact]
    public async Task Only_admins_manage_keys_and_a_key_needs_a_name()
    {
        Assert.Equal(HttpStatusCode.Forbidden, (await AppHost.SendAsync(_host.Client(_host.Token("ann")), HttpMethod.Post, "/api/api-keys", """{"name":"x"}""")).Status);
        var (status, body, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/api/api-keys", "{}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["name"]);
    }
}
