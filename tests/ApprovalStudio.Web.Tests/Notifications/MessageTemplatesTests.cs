using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Infrastructure;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Tests.Notifications;

/// <summary>Per-tenant message templates: checked before they are saved, used for that tenant only, values escaped where they land.</summary>
public sealed class MessageTemplatesTests
{
    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.what}}","assignees":{"users":["mia"]}}],
         "edges":[]}
        """;

    private static Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> PutAsync(AppHost host, string name, string source, string tenant = AppHost.Tenant) =>
        AppHost.SendAsync(host.Admin(tenant), HttpMethod.Put, $"/api/message-templates/{name}", new JsonObject { ["source"] = source }.ToJsonString());

    [Fact]
    public async Task A_tenants_own_templates_shape_its_email_and_slack_messages_and_values_from_the_run_are_escaped()
    {
        await using var channels = await Channels.StartAsync();
        var host = channels.Host;
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(host, "email.subject", "[{{ workflow.key }}] {{ task.title | upcase }}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(host, "email.html", "<h1>{{ task.title }}</h1><p>{{ run.input.note }}</p><a href=\"{{ link }}\">go</a>")).Status);
        var (status, saved, _) = await PutAsync(host, "slack.blocks",
            """[{"type":"section","text":{"type":"mrkdwn","text":"{{ task.title }} — {{ run.input.note }}"}}]""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Approve 1,250 EUR &lt;for&gt;", (string?)saved!["preview"], StringComparison.Ordinal);
        foreach (var tenant in new[] { AppHost.Tenant, "globex" })
        {
            await host.CreateWorkflowAsync(Expense, tenant);
            await channels.AddPersonAsync("mia", [], email: $"mia@{tenant}.test", slackUserId: $"U-{tenant}", tenant: tenant);
        }

        const string input = """{"what":"<script>alert(1)</script> & \"quotes\"","note":"<https://evil.test|Click> \n next line"}""";
        await host.StartRunAsync("expense", input);
        await host.StartRunAsync("expense", input, tenant: "globex");
        var own = await channels.Smtp!.WaitForAsync("mia@acme.test");
        var standard = await channels.Smtp.WaitForAsync("mia@globex.test");
        var ownSlack = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U-acme");
        var standardSlack = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U-globex");

        Assert.Equal("[expense] APPROVE <SCRIPT>ALERT(1)</SCRIPT> & \"QUOTES\"", own.Subject);
        Assert.StartsWith("<h1>Approve &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;</h1>", own.HtmlBody, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", own.HtmlBody, StringComparison.Ordinal);
        Assert.Equal("Approve <script>alert(1)</script> & \"quotes\"", standard.Subject);
        Assert.Contains("Hello Mia,", standard.TextBody, StringComparison.Ordinal);

        var text = ownSlack["blocks"]![0]!["text"]!["text"]!.GetValue<string>();
        Assert.Equal("Approve &lt;script&gt;alert(1)&lt;/script&gt; &amp; \"quotes\" — &lt;https://evil.test|Click&gt; \n next line", text);
        Assert.Equal(2, ownSlack["blocks"]!.AsArray().Count);
        Assert.Equal("actions", (string?)ownSlack["blocks"]![1]!["type"]);
        Assert.Equal(3, standardSlack["blocks"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_template_that_does_not_parse_or_render_blocks_is_refused_naming_source_and_changes_nothing()
    {
        await using var host = await AppHost.StartAsync();

        var (status, body, type) = await PutAsync(host, "email.subject", "{% if %}");
        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (status, type));
        Assert.Contains("does not parse", (string?)body!["errors"]!["source"]![0], StringComparison.Ordinal);

        (status, body, _) = await PutAsync(host, "slack.blocks", "Hello {{ task.title }}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["source"]);

        (status, body, _) = await PutAsync(host, "slack.blocks", """[{"text":"no type"}]""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("\"type\"", (string?)body!["errors"]!["source"]![0], StringComparison.Ordinal);

        (status, body, _) = await PutAsync(host, "email.text", "{% for i in (1..100000) %}{% for j in (1..100000) %}x{% endfor %}{% endfor %}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("does not render", (string?)body!["errors"]!["source"]![0], StringComparison.Ordinal);

        (status, _, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Put, "/api/message-templates/email.subject", """{"source":""}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        (status, body, _) = await PutAsync(host, "sms.body", "hi");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("email.subject", (string?)body!["detail"], StringComparison.Ordinal);

        var (_, list, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Get, "/api/message-templates");
        Assert.All(list!.AsArray(), t => Assert.True((bool)t!["isDefault"]!));
    }

    [Fact]
    public async Task A_template_can_be_listed_replaced_and_reset_by_an_admin_of_the_tenant_only()
    {
        await using var host = await AppHost.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await PutAsync(host, "email.subject", "New: {{ task.title }}")).Status);

        var (_, list, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Get, "/api/message-templates");
        var subject = list!.AsArray().Single(t => (string?)t!["name"] == "email.subject")!;
        Assert.Equal(("New: {{ task.title }}", false), ((string?)subject["source"], (bool)subject["isDefault"]!));
        Assert.Equal(MessageTemplates.Names, list.AsArray().Select(t => (string?)t!["name"]));

        var (_, other, _) = await AppHost.SendAsync(host.Admin("globex"), HttpMethod.Get, "/api/message-templates");
        Assert.True((bool)other!.AsArray().Single(t => (string?)t!["name"] == "email.subject")!["isDefault"]!);

        var (forbidden, _, _) = await AppHost.SendAsync(host.Client(host.Token("mia")), HttpMethod.Put, "/api/message-templates/email.subject", """{"source":"x"}""");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden);

        var (deleted, _, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Delete, "/api/message-templates/email.subject");
        Assert.Equal(HttpStatusCode.NoContent, deleted);
        (_, list, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Get, "/api/message-templates");
        Assert.True((bool)list!.AsArray().Single(t => (string?)t!["name"] == "email.subject")!["isDefault"]!);
    }

    [Theory]
    [InlineData("smtp.test", null, null, null, "App:PublicBaseUrl is required when Smtp:Host is set")]
    [InlineData(null, "xoxb-1", "secret", null, "App:PublicBaseUrl is required when Slack:BotToken is set")]
    [InlineData(null, "xoxb-1", null, "https://approvals.example.com", "Slack:SigningSecret is required when Slack:BotToken is set")]
    [InlineData("smtp.test", "xoxb-1", "secret", "https://approvals.example.com", null)]
    [InlineData(null, null, "secret", null, null)]
    public void Channels_that_send_need_a_public_base_url_and_slack_buttons_need_the_signing_secret(
        string? smtpHost, string? botToken, string? signingSecret, string? publicBaseUrl, string? failure)
    {
        var validator = new ChannelOptionsValidator(
            Options.Create(new SmtpOptions { Host = smtpHost }), Options.Create(new SlackOptions { BotToken = botToken, SigningSecret = signingSecret }));

        var result = validator.Validate(null, new AppOptions { PublicBaseUrl = publicBaseUrl });

        Assert.Equal(failure is null, result.Succeeded);
        if (failure is not null)
        {
            Assert.Contains(failure, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Email_on_without_a_public_base_url_fails_at_start_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Smtp:Host"] = "127.0.0.1" }));

        Assert.Contains("App:PublicBaseUrl", error.ToString(), StringComparison.Ordinal);
    }
}
