using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Tests.Notifications;

/// <summary>
/// Email to a relay that demands STARTTLS and AUTH (a real aiosmtpd with a self-signed certificate), as a company's
/// private relay would: sent when the certificate is pinned and the password is right; otherwise nothing is sent and
/// the outbox row says why. The password never reaches the logs.
/// </summary>
public sealed class SmtpSecurityTests
{
    private const string User = "relay-user";
    private const string Password = "Relay-Secret-4711";

    private const string Flow = """
        {"key":"ask","start":"ask",
         "nodes":[{"id":"ask","type":"approval","title":"Approve the offsite","assignees":{"users":["mia"]}}],
         "edges":[]}
        """;

    [Theory]
    [InlineData("StartTls")]
    [InlineData("SslOnConnect")]
    public async Task Over_tls_with_a_pinned_certificate_and_the_right_password_the_email_arrives_and_the_password_stays_out_of_the_logs(string security)
    {
        using var certificate = SmtpSink.SelfSignedCertificate();
        await using var relay = await SmtpSink.StartWithTlsAndAuthAsync(certificate, User, Password, implicitTls: security == "SslOnConnect");
        var logs = new LogCapture();
        var settings = Relay(relay, Password, Pin(certificate));
        settings["Smtp:Security"] = security;
        foreach (var (key, value) in LogCapture.Everything())
        {
            settings[key] = value;
        }

        await using var channels = await Channels.StartAsync(smtpUp: false, settings: settings, services: logs.Install);
        var run = await StartAsync(channels);

        var email = await relay.WaitForAsync("mia@acme.test");
        Assert.Equal("Approve the offsite", email.Subject);
        var rows = await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Channel == NotificationChannels.Email && n.Status == NotificationStatuses.Sent));
        Assert.Equal(0, rows.Single(n => n.Channel == NotificationChannels.Email && n.Kind == NotificationKinds.TaskCreated).Attempts);
        Assert.NotEmpty(logs.Messages);
        Assert.DoesNotContain(logs.Messages, m => m.Contains(Password, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("wrong password", "AuthenticationException")]
    [InlineData("certificate not pinned", "SslHandshakeException")]
    public async Task A_wrong_password_or_an_untrusted_certificate_sends_nothing_and_the_row_says_why(string what, string error)
    {
        using var certificate = SmtpSink.SelfSignedCertificate();
        await using var relay = await SmtpSink.StartWithTlsAndAuthAsync(certificate, User, Password);
        var settings = what == "wrong password" ? Relay(relay, "not-the-password", Pin(certificate)) : Relay(relay, Password, pin: null);
        await using var channels = await Channels.StartAsync(smtpUp: false, settings: settings);
        var run = await StartAsync(channels);

        var rows = await channels.WaitForNotificationsAsync(run, r => r.Any(n => n.Channel == NotificationChannels.Email && n.Attempts >= 2));
        var row = rows.First(n => n.Channel == NotificationChannels.Email && n.Attempts >= 2);
        Assert.Equal(NotificationStatuses.Pending, row.Status);
        Assert.Contains(error, row.LastError, StringComparison.Ordinal);
        Assert.Empty(relay.Messages());
        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);
    }

    [Fact]
    public async Task A_pin_that_is_not_a_sha256_fingerprint_fails_at_start_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Smtp:ServerCertificateSha256"] = "AB:CD:not-a-fingerprint",
        }));

        Assert.Contains("Smtp:ServerCertificateSha256 is a SHA-256 fingerprint", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("6D:0A:7E:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD")]
    [InlineData("6d0a7e112233445566778899aabbccddeeff00112233445566778899aabbccdd")]
    public async Task An_empty_pin_or_a_fingerprint_with_or_without_colons_is_accepted_at_start(string pin)
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Smtp:ServerCertificateSha256"] = pin });

        using var response = await host.Anonymous.GetAsync("/health/live");
        Assert.True(response.IsSuccessStatusCode);
    }

    private static async Task<string> StartAsync(Channels channels)
    {
        await channels.Host.CreateWorkflowAsync(Flow);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        var run = await channels.Host.StartRunAsync("ask");
        await channels.Host.WaitForTaskAsync(run);
        return run;
    }

    private static string Pin(X509Certificate2 certificate) => Convert.ToHexString(SHA256.HashData(certificate.RawData));

    private static Dictionary<string, string?> Relay(SmtpSink relay, string password, string? pin) => new()
    {
        ["Smtp:Port"] = relay.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Smtp:Security"] = "StartTls",
        ["Smtp:UserName"] = User,
        ["Smtp:Password"] = password,
        ["Smtp:ServerCertificateSha256"] = pin,
        ["Notifications:MaxAttempts"] = "10",
    };
}
