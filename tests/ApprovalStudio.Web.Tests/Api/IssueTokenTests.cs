using System.Net;
using System.Net.Http.Headers;
using Microsoft.IdentityModel.JsonWebTokens;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>The <c>issue-token</c> command (CONTRACT §1), run as the real program.</summary>
public sealed class IssueTokenTests
{
    [Fact]
    public async Task Issue_token_prints_a_jwt_alone_that_the_server_accepts()
    {
        await using var host = await AppHost.StartAsync();
        var settings = new Dictionary<string, string?> { ["Auth__Local__SigningKey"] = host.SigningKey, ["App__DataDirectory"] = host.Database.Folder };

        var (exit, stdout, _) = await AppProcess.RunCommandAsync(
            ["issue-token", "--tenant", AppHost.Tenant, "--user", "ann", "--name", "Ann Admin", "--groups", "ops,hr", "--roles", "admin", "--lifetime", "2h"], settings);

        Assert.Equal(0, exit);
        var token = stdout.Trim();
        Assert.DoesNotContain('\n', token);
        var jwt = new JsonWebTokenHandler().ReadJsonWebToken(token);
        Assert.Equal(("ann", AppHost.Tenant, "Ann Admin"), (jwt.Subject, jwt.GetClaim("tenant").Value, jwt.GetClaim("name").Value));
        Assert.Equal(["hr", "ops"], jwt.Claims.Where(c => c.Type == "groups").Select(c => c.Value).Order());
        Assert.InRange(jwt.ValidTo - DateTime.UtcNow, TimeSpan.FromMinutes(119), TimeSpan.FromMinutes(121));

        var client = host.Client(token);
        Assert.Equal(HttpStatusCode.Created, (await AppHost.SendAsync(client, HttpMethod.Post, "/api/workflows", Flows.Review)).Status);
    }

    [Fact]
    public async Task Without_a_configured_key_the_command_and_the_server_share_the_key_kept_in_the_data_folder()
    {
        await using var database = TestDatabase.Create(Provider.Sqlite);
        var dataDirectory = Path.Combine(database.Folder, "data");

        var (exit, stdout, _) = await AppProcess.RunCommandAsync(
            ["issue-token", "--tenant", AppHost.Tenant, "--user", "root", "--roles", "admin"], new Dictionary<string, string?> { ["App__DataDirectory"] = dataDirectory });
        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(dataDirectory, "signing-key")));

        await using var server = await AppProcess.StartAsync(database, signingKey: null);
        using var client = new HttpClient { BaseAddress = server.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stdout.Trim());
        using var response = await client.PostJsonAsync("/api/workflows", Flows.Review);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [InlineData("--user", "ann")]
    [InlineData("--tenant", "acme", "--user", "ann", "--lifetime", "forever")]
    [InlineData("--tenant", "acme", "--user", "ann", "--colour", "blue")]
    public async Task Bad_arguments_exit_2_with_the_usage(params string[] args)
    {
        var (exit, stdout, stderr) = await AppProcess.RunCommandAsync(["issue-token", .. args], new Dictionary<string, string?>
        {
            ["Auth__Local__SigningKey"] = AppHost.NewSigningKey(),
        });

        Assert.Equal(2, exit);
        Assert.Empty(stdout.Trim());
        Assert.Contains("usage: issue-token", stderr);
    }
}
