using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MimeKit;

namespace ApprovalStudio.Testing;

/// <summary>
/// A real SMTP server for one test: Debian's python3-aiosmtpd with its Maildir handler, on a loopback port
/// (./build/test.sh installs the package). Every message it accepts is a file the test reads back with MimeKit.
/// </summary>
public sealed class SmtpSink : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";

    private readonly Process _process;
    private readonly string _folder;

    private SmtpSink(Process process, string folder, int port)
    {
        _process = process;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public static Task<SmtpSink> StartAsync(int? port = null)
    {
        var chosen = port ?? AppProcess.FreePort();
        var folder = Directory.CreateTempSubdirectory("approval-studio-smtp-").FullName;
        return LaunchAsync(["-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{chosen}", "-c", "aiosmtpd.handlers.Mailbox", Path.Combine(folder, "mail")], folder, chosen);
    }

    /// <summary>
    /// A server that demands STARTTLS (or, <paramref name="implicitTls"/>, TLS from the first byte) with <paramref name="certificate"/> (PEM files written here) and AUTH as
    /// <paramref name="user"/>/<paramref name="password"/> (<c>smtp_tls_auth.py</c>, aiosmtpd as a library).
    /// </summary>
    public static Task<SmtpSink> StartWithTlsAndAuthAsync(X509Certificate2 certificate, string user, string password, bool implicitTls = false)
    {
        var chosen = AppProcess.FreePort();
        var folder = Directory.CreateTempSubdirectory("approval-studio-smtp-").FullName;
        var cert = Path.Combine(folder, "cert.pem");
        var key = Path.Combine(folder, "key.pem");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var script = Path.Combine(AppContext.BaseDirectory, "smtp_tls_auth.py");
        return LaunchAsync(
            [script, chosen.ToString(CultureInfo.InvariantCulture), Path.Combine(folder, "mail"), cert, key, user, password, implicitTls ? "implicit" : "starttls"],
            folder, chosen);
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, as a private mail relay might have.</summary>
    public static X509Certificate2 SelfSignedCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=smtp.test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static async Task<SmtpSink> LaunchAsync(string[] arguments, string folder, int port)
    {
        var info = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start.");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                var error = await process.StandardError.ReadToEndAsync();
                throw new InvalidOperationException($"aiosmtpd exited ({process.ExitCode}): {error} — install Debian's python3-aiosmtpd (./build/test.sh does).");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return new SmtpSink(process, folder, port);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException($"aiosmtpd did not listen on {port} within 15 s.");
    }

    /// <summary>Every message received so far.</summary>
    public IReadOnlyList<MimeMessage> Messages()
    {
        var messages = new List<MimeMessage>();
        foreach (var sub in new[] { "new", "cur" })
        {
            var dir = Path.Combine(_folder, "mail", sub);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                messages.Add(MimeMessage.Load(file));
            }
        }

        return messages;
    }

    /// <summary>Messages sent to <paramref name="address"/>.</summary>
    public IReadOnlyList<MimeMessage> To(string address) =>
        [.. Messages().Where(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase)))];

    public Task<MimeMessage> WaitForAsync(string address, int count = 1, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => To(address) is { } found && found.Count >= count ? found[count - 1] : null, timeout,
            () => $"No email #{count} to {address} within the time; received: {Received()}");

    /// <summary>The first message to <paramref name="address"/> that <paramref name="match"/> accepts.</summary>
    public Task<MimeMessage> WaitForAsync(string address, Func<MimeMessage, bool> match, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => To(address).FirstOrDefault(match), timeout, () => $"No matching email to {address} within the time; received: {Received()}");

    private string Received() => string.Join(", ", Messages().Select(m => $"{m.To} '{m.Subject}'"));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
