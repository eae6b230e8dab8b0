using System.Net.Security;
using System.Security.Cryptography;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>
/// Sends one email over SMTP with MailKit: a text and an HTML part; TLS as <c>Smtp:Security</c> says (a pinned
/// certificate when <c>Smtp:ServerCertificateSha256</c> is set), and AUTH when <c>Smtp:UserName</c> is set.
/// </summary>
public sealed class EmailSender(IOptions<SmtpOptions> options)
{
    /// <param name="messageId">
    /// The message's <c>Message-ID</c>, the same every time the same outbox row is sent: a row sent again after a crash between
    /// the server's answer and the row's update is one message to mail systems that collapse duplicates by it.
    /// </param>
    public async Task SendAsync(string to, string toName, EmailMessage message, CancellationToken cancellationToken, string? messageId = null)
    {
        var settings = options.Value;
        var mime = new MimeMessage();
        if (messageId is not null)
        {
            mime.MessageId = messageId;
        }

        mime.From.Add(new MailboxAddress(settings.FromName, settings.From));
        mime.To.Add(new MailboxAddress(toName, to));
        mime.Subject = message.Subject;
        mime.Body = new BodyBuilder { TextBody = message.Text, HtmlBody = message.Html }.ToMessageBody();

        using var client = new SmtpClient { Timeout = (int)settings.Timeout.TotalMilliseconds };
        if (settings.ServerCertificateSha256 is { Length: > 0 } pinned)
        {
            var expected = Convert.FromHexString(pinned.Replace(":", string.Empty, StringComparison.Ordinal));
            client.ServerCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == SslPolicyErrors.None
                || (certificate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), expected));
        }

        await client.ConnectAsync(settings.Host ?? throw new InvalidOperationException("Smtp:Host is not set."), settings.Port, settings.Security switch
        {
            SmtpSecurity.None => SecureSocketOptions.None,
            SmtpSecurity.StartTls => SecureSocketOptions.StartTls,
            SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
            _ => SecureSocketOptions.StartTlsWhenAvailable,
        }, cancellationToken);
        if (!string.IsNullOrEmpty(settings.UserName))
        {
            await client.AuthenticateAsync(settings.UserName, settings.Password ?? string.Empty, cancellationToken);
        }

        await client.SendAsync(mime, cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);
    }

    /// <summary>The Message-ID of outbox row <paramref name="rowId"/> (made at <paramref name="createdAt"/>), in the sender's domain.</summary>
    public string MessageId(long rowId, DateTime createdAt)
    {
        var from = options.Value.From;
        var domain = from?.LastIndexOf('@') is int at and >= 0 ? from[(at + 1)..] : "approval-studio.local";
        return $"notification-{rowId}-{createdAt:yyyyMMddHHmmssfff}@{domain}";
    }
}
