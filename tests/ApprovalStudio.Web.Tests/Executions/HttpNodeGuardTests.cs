using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Tests.Executions;

/// <summary>
/// An http node reaches only what it should: loopback, link-local, private, unique-local and unspecified addresses are
/// refused by default, on the address actually connected to (a hostname or a redirect that leads there too); operators
/// open what they need; responses are capped in size and time. Network tests here only ever target loopback: the
/// private ranges are checked on the guard itself, so a broken guard sends nothing to them.
/// </summary>
public sealed class HttpNodeGuardTests
{
    private const string Call = """
        {"key":"call","name":"Call","start":"call",
         "nodes":[{"id":"call","type":"http","method":"GET","url":"{{input.url}}"}],"edges":[]}
        """;

    private static async Task<JsonObject> RunAsync(AppHost host, string url)
    {
        var executionId = await host.StartRunAsync("call", new JsonObject { ["url"] = url }.ToJsonString());
        return await host.WaitForAsync(executionId, s => (string?)s["status"] is "Completed" or "Failed");
    }

    [Fact]
    public async Task By_default_a_node_cannot_reach_the_apps_own_port_or_any_loopback_name_or_address()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Call);
        var port = host.Address.Port;

        foreach (var url in new[]
        {
            $"http://127.0.0.1:{port}/health/ready", $"http://localhost:{port}/health/ready", $"http://127.0.0.2:{port}/health/ready",
            $"http://[::1]:{port}/health/ready", $"http://[::ffff:127.0.0.1]:{port}/health/ready", $"http://0.0.0.0:{port}/health/ready",
        })
        {
            var status = await RunAsync(host, url);

            Assert.Equal("Failed", (string?)status["status"]);
            var error = (string)status["error"]!;
            Assert.True(error.Contains("Refused:", StringComparison.Ordinal), $"{url}: {error}");
            Assert.DoesNotContain("Healthy", status.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_redirect_from_an_allowed_host_to_a_blocked_address_is_refused()
    {
        await using var target = await LoopbackServer.StartAsync((app, address) =>
        {
            app.MapGet("/secret", () => "internal");
            app.MapGet("/hop", () => Results.Redirect(new Uri(address(), "secret").ToString()));
        });
        // The server is reached by the name "localhost", which the operator allowed; its redirect names 127.0.0.1, which is not.
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Workflows:Http:AllowedHosts:0"] = "localhost" });
        await host.CreateWorkflowAsync(Call);

        var direct = await RunAsync(host, $"http://localhost:{target.Address.Port}/secret");
        Assert.Equal("Completed", (string?)direct["status"]);

        var redirected = await RunAsync(host, $"http://localhost:{target.Address.Port}/hop");
        Assert.Equal("Failed", (string?)redirected["status"]);
        Assert.Contains("Refused: 127.0.0.1 is loopback", (string)redirected["error"]!, StringComparison.Ordinal);
        Assert.DoesNotContain("internal", redirected.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_allowed_loopback_network_works_and_bodies_and_time_are_capped()
    {
        await using var target = await LoopbackServer.StartAsync((app, _) =>
        {
            app.MapGet("/ok", () => Results.Json(new { fine = true }));
            // A charset nobody knows: the body is read as UTF-8 JSON all the same, not thrown on (which was a worker failure).
            app.MapGet("/odd-charset", () => Results.Text("""{"fine":true}""", "application/json; charset=no-such-charset"));
            app.MapGet("/big", () => Results.Text(new string('x', 5000)));
            app.MapGet("/slow", async (CancellationToken ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(10), ct);
                return "late";
            });
        });
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.0/8",
            ["Workflows:Http:MaxResponseBytes"] = "1000",
            ["Workflows:Http:Timeout"] = "00:00:01",
        });
        await host.CreateWorkflowAsync(Call);

        var ok = await RunAsync(host, new Uri(target.Address, "ok").ToString());
        Assert.Equal("Completed", (string?)ok["status"]);
        Assert.True((bool?)ok["output"]!["body"]!["fine"]);

        var odd = await RunAsync(host, new Uri(target.Address, "odd-charset").ToString());
        Assert.Equal("Completed", (string?)odd["status"]);
        Assert.True((bool?)odd["output"]!["body"]!["fine"]);

        var big = await RunAsync(host, new Uri(target.Address, "big").ToString());
        Assert.Equal("Failed", (string?)big["status"]);
        Assert.Contains("1000", (string)big["error"]!, StringComparison.Ordinal);

        var slow = await RunAsync(host, new Uri(target.Address, "slow").ToString());
        Assert.Equal("Failed", (string?)slow["status"]);
        Assert.Contains("Timeout", (string)slow["error"]!, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("169.254.169.254", "link-local (cloud metadata)")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("10.1.2.3", "a private network")]
    [InlineData("172.16.0.1", "a private network")]
    [InlineData("172.31.255.255", "a private network")]
    [InlineData("192.168.1.1", "a private network")]
    [InlineData("::ffff:192.168.1.1", "a private network")]
    [InlineData("fc00::1", "a unique-local network")]
    [InlineData("fd12:3456::1", "a unique-local network")]
    [InlineData("0.0.0.0", "the unspecified network")]
    [InlineData("::", "the unspecified address")]
    [InlineData("100.64.0.1", "the shared (carrier-grade NAT) network")]
    [InlineData("224.0.0.1", "multicast")]
    public void The_guard_refuses_each_blocked_range_by_default(string address, string why)
    {
        var guard = new OutboundGuard(Options.Create(new HttpNodeOptions()));

        var ip = IPAddress.Parse(address);
        var shown = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

        Assert.StartsWith($"{shown} is {why};", guard.Refusal("example.test", ip));
    }

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700::1111")]
    public void Public_addresses_pass(string address) =>
        Assert.Null(new OutboundGuard(Options.Create(new HttpNodeOptions())).Refusal("example.test", IPAddress.Parse(address)));

    [Fact]
    public void Allowed_networks_and_hosts_open_exactly_what_they_name()
    {
        var guard = new OutboundGuard(Options.Create(new HttpNodeOptions { AllowedNetworks = ["10.20.0.0/16"], AllowedHosts = ["billing.internal"] }));

        Assert.Null(guard.Refusal("anything", IPAddress.Parse("10.20.1.1")));
        Assert.NotNull(guard.Refusal("anything", IPAddress.Parse("10.21.1.1")));
        Assert.Null(guard.Refusal("billing.internal", IPAddress.Parse("192.168.5.5")));
        Assert.Null(guard.Refusal("BILLING.internal", IPAddress.Parse("192.168.5.5")));
        Assert.NotNull(guard.Refusal("billing.internal.evil.test", IPAddress.Parse("192.168.5.5")));
    }

    [Fact]
    public void A_network_that_is_not_cidr_fails_validation_naming_the_key()
    {
        var result = new HttpNodeOptionsValidator().Validate(null, new HttpNodeOptions { AllowedNetworks = ["10.0.0.0/8", "intranet"] });

        Assert.True(result.Failed);
        Assert.Contains("Workflows:Http:AllowedNetworks", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("intranet", result.FailureMessage, StringComparison.Ordinal);
    }
}
