using System.Diagnostics;
using System.Net.Sockets;
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

    public static async Task<SmtpSink> StartAsync(int? port = null)
    {
        var chosen = port ?? AppProcess.FreePort();
        var folder = Directory.CreateTempSubdirectory("approval-studio-smtp-").FullName;
        var info = new ProcessStartInfo(Python)
        {
            ArgumentList = { "-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{chosen}", "-c", "aiosmtpd.handlers.Mailbox", Path.Combine(folder, "mail") },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
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
                await probe.ConnectAsync("127.0.0.1", chosen);
                return new SmtpSink(process, folder, chosen);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException($"aiosmtpd did not listen on {chosen} within 15 s.");
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
