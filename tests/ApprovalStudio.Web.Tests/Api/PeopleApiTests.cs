using System.Net;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>PUT /api/users/{userId} (CONTRACT §6): the tenant's directory and local passwords.</summary>
public sealed class PeopleApiTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync() => _host = await AppHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task A_person_is_created_then_updated_within_the_tenant()
    {
        var created = await AppHost.SendAsync(_host.Admin(), HttpMethod.Put, "/api/users/ann",
            """{"name":"Ann","email":"ann@acme.example","groups":["ops","legal"],"slackUserId":"U123","password":"Correct-Horse-7"}""");
        var updated = await AppHost.SendAsync(_host.Admin(), HttpMethod.Put, "/api/users/ann", """{"name":"Ann B.","groups":["ops"]}""");

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal(("Ann B.", "ops"), ((string?)updated.Body!["name"], string.Join(",", updated.Body["groups"]!.AsArray().Select(g => (string)g!))));
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(_host.Admin("globex"), HttpMethod.Get, "/api/users/ann")).Status);
        Assert.Equal(HttpStatusCode.Created, (await AppHost.SendAsync(_host.Admin("globex"), HttpMethod.Put, "/api/users/ann", """{"name":"Other Ann"}""")).Status);
    }

    [Theory]
    [InlineData("""{"name":"Ann","password":"short"}""", "password")]
    [InlineData("""{"groups":["ops"]}""", "name")]
    [InlineData("""{"name":"Ann","groups":["a,b"]}""", "groups")]
    [InlineData("""{"name":"Ann","roles":["owner"]}""", "roles")]
    [InlineData("""{"name":"Ann","groups":"ops"}""", "groups")]
    public async Task Bad_input_is_400_naming_the_field_and_saves_nothing(string body, string field)
    {
        var (status, problem, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Put, "/api/users/zed", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(problem!["errors"]![field]);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(_host.Admin(), HttpMethod.Get, "/api/users/zed")).Status);
    }

    [Fact]
    public async Task Only_admins_manage_people()
    {
        var (status, _, _) = await AppHost.SendAsync(_host.Client(_host.Token("ann")), HttpMethod.Put, "/api/users/ann", """{"name":"Ann"}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
    }
}
