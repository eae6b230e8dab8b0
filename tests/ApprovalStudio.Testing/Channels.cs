using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Testing;

/// <summary>
/// The app with its channels on, each against a real local server: email to an aiosmtpd sink (or to a port
/// nobody listens on, for "the mail server is down"), Slack to <see cref="SlackStandIn"/>; links under a public
/// base URL that is the app's own address.
/// </summary>
public sealed class Channels : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _settings;

    private Channels(AppHost host, SmtpSink? smtp, int smtpPort, SlackStandIn slack, Dictionary<string, string?> settings)
    {
        _settings = settings;
        Host = host;
        Smtp = smtp;
        SmtpPort = smtpPort;
        Slack = slack;
    }

    public AppHost Host { get; }

    /// <summary>Null when the test started with the mail server down (<see cref="StartSmtpAsync"/> brings it up).</summary>
    public SmtpSink? Smtp { get; private set; }

    public int SmtpPort { get; }
    public SlackStandIn Slack { get; }

    public static async Task<Channels> StartAsync(
        Provider provider = Provider.Sqlite, bool smtpUp = true, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var smtp = smtpUp ? await SmtpSink.StartAsync() : null;
        var smtpPort = smtp?.Port ?? AppProcess.FreePort();
        var slack = await SlackStandIn.StartAsync();
        var port = AppProcess.FreePort();
        var all = new Dictionary<string, string?>
        {
            ["App:PublicBaseUrl"] = $"http://127.0.0.1:{port}",
            ["Smtp:Host"] = "127.0.0.1",
            ["Smtp:Port"] = smtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Smtp:Security"] = "None",
            ["Smtp:From"] = "approvals@studio.test",
            ["Slack:BotToken"] = SlackStandIn.BotToken,
            ["Slack:SigningSecret"] = SlackStandIn.SigningSecret,
            ["Slack:ApiBaseUrl"] = slack.ApiBaseUrl.ToString(),
            ["Notifications:PollInterval"] = "00:00:00.100",
            ["Notifications:BaseBackoff"] = "00:00:00.200",
            ["Notifications:MaxBackoff"] = "00:00:00.500",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var host = await AppHost.StartAsync(provider, all, services: services, port: port);
        return new Channels(host, smtp, smtpPort, slack, all);
    }

    /// <summary>A second instance of the app on the same database, signing key and channels (its own port).</summary>
    public Task<AppHost> StartAnotherInstanceAsync(IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(_settings);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return AppHost.StartAsync(Host.Database.Provider, settings, database: Host.Database, signingKey: Host.SigningKey);
    }

    /// <summary>Brings the mail server up on the port the app was told (after it was down).</summary>
    public async Task StartSmtpAsync() => Smtp = await SmtpSink.StartAsync(SmtpPort);

    public async Task AddPersonAsync(string user, string[] groups, string? email = null, string? slackUserId = null, string tenant = AppHost.Tenant)
    {
        var body = new JsonObject
        {
            ["name"] = char.ToUpperInvariant(user[0]) + user[1..],
            ["groups"] = new JsonArray([.. groups.Select(g => JsonValue.Create(g))]),
            ["email"] = email,
            ["slackUserId"] = slackUserId,
        };
        using var response = await Host.Admin(tenant).PutAsync($"/api/users/{user}", AppHost.Json(body.ToJsonString()));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<List<NotificationRecord>> NotificationsAsync(string? executionId = null)
    {
        await using var db = Host.Database.OpenContext();
        return await db.Notifications.AsNoTracking().Where(n => executionId == null || n.ExecutionId == executionId).OrderBy(n => n.Id).ToListAsync();
    }

    /// <summary>Waits until the outbox rows of the run satisfy <paramref name="until"/>.</summary>
    public Task<List<NotificationRecord>> WaitForNotificationsAsync(string executionId, Func<List<NotificationRecord>, bool> until, TimeSpan? timeout = null)
    {
        List<NotificationRecord> rows = [];
        return Poll.UntilAsync(async () => until(rows = await NotificationsAsync(executionId)) ? rows : null, timeout,
            () => $"The notifications never reached the expected state: {string.Join(" | ", rows.Select(r => $"{r.Kind}/{r.Channel}/{r.RecipientUserId}: {r.Status} ({r.Attempts}) {r.LastError}"))}");
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Slack.DisposeAsync();
        if (Smtp is not null)
        {
            await Smtp.DisposeAsync();
        }
    }
}
