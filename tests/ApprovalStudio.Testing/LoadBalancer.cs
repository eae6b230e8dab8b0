using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace ApprovalStudio.Testing;

/// <summary>
/// Debian's nginx in front of app instances, much as docs/deploy.md configures it (without TLS; hub clients skip
/// negotiation, so <c>/hubs/</c> is round robin here): round robin for requests (so consecutive
/// requests alternate instances), the inbox's Blazor circuit sticky (<c>ip_hash</c> on <c>/_blazor</c>: its negotiate
/// request and its WebSocket must reach one instance), WebSocket upgrades passed through, X-Forwarded-* set, and a
/// request whose instance refuses the connection passed to the next one. Each answer says which instance served it
/// (<c>X-Upstream</c>), and so does the access log.
/// </summary>
public sealed class LoadBalancer : IAsyncDisposable
{
    private readonly Process _nginx;
    private readonly string _folder;

    private LoadBalancer(Process nginx, string folder, Uri address)
    {
        _nginx = nginx;
        _folder = folder;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>nginx's access log so far: one line per request, with the instance that answered it.</summary>
    public string AccessLog => File.Exists(Path.Combine(_folder, "access.log")) ? File.ReadAllText(Path.Combine(_folder, "access.log")) : "";

    public static async Task<LoadBalancer> StartAsync(IEnumerable<Uri> instances)
    {
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed (build/test.sh installs it: apt-get install nginx).");
        var folder = Directory.CreateTempSubdirectory("approval-studio-nginx-").FullName;
        // Workers may run as another user than the test: they write their temp files here.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
        }
        var port = AppProcess.FreePort();
        var upstreams = string.Join("\n", instances.Select(i => $"    server {i.Host}:{i.Port} max_fails=1 fail_timeout=2s;"));
        var config = string.Create(CultureInfo.InvariantCulture, $$"""
            worker_processes 1;
            daemon off;
            pid {{folder}}/nginx.pid;
            error_log {{folder}}/error.log warn;
            events { worker_connections 1024; }
            http {
              log_format upstream '$request_method $uri $status $upstream_addr';
              access_log {{folder}}/access.log upstream;
              client_body_temp_path {{folder}}/body;
              proxy_temp_path {{folder}}/proxy;
              fastcgi_temp_path {{folder}}/fastcgi;
              uwsgi_temp_path {{folder}}/uwsgi;
              scgi_temp_path {{folder}}/scgi;
              map $http_upgrade $connection_upgrade { default upgrade; '' close; }
              upstream app {
            {{upstreams}}
              }
              upstream sticky {
                ip_hash;
            {{upstreams}}
              }
              server {
                listen 127.0.0.1:{{port}};
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
                proxy_set_header Host $http_host;
                proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                proxy_set_header X-Forwarded-Proto $scheme;
                proxy_read_timeout 300s;
                add_header X-Upstream $upstream_addr always;
                location /_blazor { proxy_pass http://sticky; }
                location / { proxy_pass http://app; }
              }
            }
            """);
        var path = Path.Combine(folder, "nginx.conf");
        await File.WriteAllTextAsync(path, config);
        var info = new ProcessStartInfo(nginx, ["-p", folder, "-c", path, "-e", Path.Combine(folder, "error.log")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info)!;
        var address = new Uri($"http://127.0.0.1:{port}");
        var balancer = new LoadBalancer(process, folder, address);
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited)
            {
                var log = File.Exists(Path.Combine(folder, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(folder, "error.log")) : "";
                throw new InvalidOperationException($"nginx exited ({process.ExitCode}): {await process.StandardError.ReadToEndAsync()} {log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return balancer;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        await balancer.DisposeAsync();
        throw new TimeoutException("nginx did not start listening within 10 s.");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_nginx.HasExited)
        {
            _nginx.Kill(entireProcessTree: true);
            await _nginx.WaitForExitAsync();
        }

        _nginx.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
