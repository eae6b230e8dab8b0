using System.Diagnostics;
using System.Net;

namespace ApprovalStudio.Load;

/// <summary>
/// What one phase measured: requests answered as expected per second and their latency percentiles; when taken through
/// <see cref="Cpu.MeasureAsync"/>, also the server's CPU milliseconds per request and the machine's busy cores.
/// </summary>
public sealed record Measurement(string What, int Connections, int Requests, int Errors, double Seconds, double P50Ms, double P99Ms, string? Note = null)
{
    public double Rate => Requests / Seconds;

    public double ServerCpuMs { get; init; } = double.NaN;

    public double MachineCores { get; init; } = double.NaN;
}

/// <summary>
/// A closed-loop load generator: <c>connections</c> loops, each on its own kept-alive connection, sending the next
/// request as soon as the last is answered, for a duration or until the requests run out. Latency is taken from send to
/// the end of the answer's body. A request answered with another status than expected counts as an error, not a request.
/// </summary>
public static class LoadGenerator
{
    public static async Task<Measurement> RunAsync(
        string what, Uri address, int connections, TimeSpan duration, int? maxRequests, Func<int, HttpRequestMessage> request, HttpStatusCode expected,
        string? note = null)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseCookies = false,
        };
        using var client = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };

        // Open every connection first, so the phase measures steady state rather than connection setup.
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => client.GetAsync("/health/ready")));

        var next = -1;
        var errors = 0;
        var latencies = new List<double>[connections];
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async loop =>
        {
            var mine = latencies[loop] = new List<double>(4096);
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var i = Interlocked.Increment(ref next);
                if (maxRequests is { } max && i >= max)
                {
                    return;
                }

                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.SendAsync(request(i));
                    await response.Content.LoadIntoBufferAsync();
                    if (response.StatusCode == expected)
                    {
                        mine.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Measurement(what, connections, all.Length, errors, seconds, Percentile(all, 0.50), Percentile(all, 0.99), note);
    }

    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
