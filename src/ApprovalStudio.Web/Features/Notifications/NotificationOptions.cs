using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>The <c>Notifications</c> section: when reminders go out and how the outbox is drained.</summary>
public sealed class NotificationOptions
{
    public const string SectionName = "Notifications";

    /// <summary>A reminder goes out this long before a task's deadline while it is open; zero turns reminders off.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan ReminderBefore { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Off only on instances that must not send (an API-only instance); some instance must send.</summary>
    public bool Enabled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Attempts before a message is given up (status Failed, with the last error).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Messages one instance sends at the same time; a slow channel holds up only the sends it is in.</summary>
    [Range(1, 256)]
    public int MaxConcurrentSends { get; set; } = 8;

    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan Backoff(int attempts) => Leases.Backoff(BaseBackoff, MaxBackoff, attempts);
}

public enum SmtpSecurity
{
    /// <summary>STARTTLS when the server offers it (MailKit's StartTlsWhenAvailable).</summary>
    Auto,
    None,
    StartTls,
    SslOnConnect,
}

/// <summary>The <c>Smtp</c> section: email notifications, off when <see cref="Host"/> is empty.</summary>
public sealed class SmtpOptions
{
    public const string SectionName = "Smtp";

    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    [Required]
    [EmailAddress]
    public string From { get; set; } = "approvals@example.com";

    /// <summary>The name shown beside <see cref="From"/>.</summary>
    public string FromName { get; set; } = "Approval Studio";

    public SmtpSecurity Security { get; set; } = SmtpSecurity.Auto;

    /// <summary>Sign in to the server when set (with <see cref="Password"/>).</summary>
    public string? UserName { get; set; }

    public string? Password { get; set; }

    /// <summary>
    /// For a relay whose certificate the machine does not trust (a private CA, self-signed): the SHA-256 fingerprint
    /// (hex) of exactly the certificate to accept. Unset: the system's trust store decides.
    /// </summary>
    [RegularExpression("^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$", ErrorMessage = "Smtp:ServerCertificateSha256 is a SHA-256 fingerprint: 64 hex digits (colons allowed).")]
    public string? ServerCertificateSha256 { get; set; }

    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool Enabled => !string.IsNullOrWhiteSpace(Host);
}

/// <summary>The <c>Slack</c> section: messages with buttons (BotToken) and their clicks (SigningSecret).</summary>
public sealed class SlackOptions
{
    public const string SectionName = "Slack";

    /// <summary>The app's signing secret: every request to /integrations/slack/interactions is verified with it.</summary>
    public string? SigningSecret { get; set; }

    /// <summary>A bot token (xoxb-…) with chat:write: messages go to each assignee's slackUserId.</summary>
    public string? BotToken { get; set; }

    [Required]
    [Url]
    public string ApiBaseUrl { get; set; } = "https://slack.com/api/";

    /// <summary>How far a request's timestamp may be from now (Slack's advice: 5 minutes).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "00:15:00")]
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(5);

    public bool Sends => !string.IsNullOrWhiteSpace(BotToken);

    public bool Receives => !string.IsNullOrWhiteSpace(SigningSecret);
}

/// <summary>
/// Rules across sections: messages carry links, so a channel that sends needs <c>App:PublicBaseUrl</c>
/// (the request's host is not known in the background, and behind a proxy it would be the wrong one);
/// Slack buttons need the signing secret that verifies their clicks.
/// </summary>
public sealed class ChannelOptionsValidator(IOptions<SmtpOptions> smtp, IOptions<SlackOptions> slack) : IValidateOptions<AppOptions>
{
    public ValidateOptionsResult Validate(string? name, AppOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.PublicBaseUrl))
        {
            if (smtp.Value.Enabled)
            {
                failures.Add("App:PublicBaseUrl is required when Smtp:Host is set: emails link to the app at the address people reach it (https://approvals.example.com).");
            }

            if (slack.Value.Sends)
            {
                failures.Add("App:PublicBaseUrl is required when Slack:BotToken is set: Slack messages link to the app at the address people reach it.");
            }
        }

        if (slack.Value.Sends && !slack.Value.Receives)
        {
            failures.Add("Slack:SigningSecret is required when Slack:BotToken is set: the buttons of the messages are answered at /integrations/slack/interactions, which verifies every request with it.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
