using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ApprovalStudio.Testing;

/// <summary>
/// The app as a real child process (`dotnet ApprovalStudio.Web.dll`), for tests that must kill it
/// with SIGKILL and start it again on the same database.
/// </summary>
public sealed class AppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private AppProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Address { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The app's process id (for diagnostics tools: dotnet-gcdump, dotnet-trace).</summary>
    public int ProcessId => _process.Id;

    /// <summary>
    /// Starts the app on <paramref name="database"/>: the build output's dll, or <paramref name="dll"/> (a published app,
    /// which serves its static assets in Production too — a browser needs them).
    /// </summary>
    public static async Task<AppProcess> StartAsync(TestDatabase database, string? signingKey, IDictionary<string, string?>? settings = null, string? dll = null)
    {
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        dll ??= WebAssemblyPath();
        var all = database.Settings();
        all["App:SeedDemoData"] = "false";
        all["Workflows:Worker:PollInterval"] = "00:00:00.100";
        if (signingKey is not null)
        {
            all["Auth:Local:SigningKey"] = signingKey;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var info = StartInfo([dll], all);
        info.WorkingDirectory = Path.GetDirectoryName(dll)!;
        info.Environment["ASPNETCORE_URLS"] = address.ToString();
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return await StartAsync(info, address, TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts any command that serves the app at <paramref name="address"/> and waits until it is ready (or fails with its output).</summary>
    public static async Task<AppProcess> StartAsync(ProcessStartInfo info, Uri address, TimeSpan startTimeout)
    {
        var app = new AppProcess(Process.Start(info)!, address);
        try
        {
            await app.WaitUntilLiveAsync(startTimeout);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    /// <summary>Runs the app's command line (e.g. <c>issue-token …</c>) to its end.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunCommandAsync(string[] args, IDictionary<string, string?> settings)
    {
        var info = StartInfo([WebAssemblyPath(), .. args], settings);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout, await stderr);
    }

    private static ProcessStartInfo StartInfo(string[] args, IDictionary<string, string?> settings)
    {
        var info = new ProcessStartInfo("dotnet", args)
        {
            WorkingDirectory = Path.GetDirectoryName(WebAssemblyPath())!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in settings)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        return info;
    }

    /// <summary>Waits until the process ends by itself (a fault point killed it); false when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL: no shutdown, no flush, no finally blocks.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task WaitUntilLiveAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with {_process.ExitCode} while starting:\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The app did not become ready:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>A loopback port nobody listens on now (for a server that must know its address before it starts).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The Web project's own build output, in the configuration these tests were built in.</summary>
    private static string WebAssemblyPath()
    {
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory);
        var framework = testDirectory.Name;
        var configuration = testDirectory.Parent!.Name;
        var root = testDirectory;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ApprovalStudio.sln")))
        {
            root = root.Parent;
        }

        var dll = Path.Combine(root?.FullName ?? throw new InvalidOperationException("ApprovalStudio.sln not found above the test output."),
            "src", "ApprovalStudio.Web", "bin", configuration, framework, "ApprovalStudio.Web.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the solution first.", dll);
    }
}
