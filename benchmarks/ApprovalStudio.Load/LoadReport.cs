using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ApprovalStudio.Load;

/// <summary>
/// Writes <c>benchmarks/reports/load-&lt;date&gt;.md</c> and <c>.json</c>: every measurement with its rate, percentiles and
/// its ratio to the baseline it is read against (measured in the same run), and the issue's target for it.
/// </summary>
public sealed class LoadReport(LoadOptions options)
{
    private readonly List<(string Section, Measurement Measurement)> _rows = [];

    public void Add(string section, Measurement measurement)
    {
        _rows.Add((section, measurement));
        Console.WriteLine($"  [{section}] {Line(measurement)}");
    }

    public async Task<string> WriteAsync()
    {
        Directory.CreateDirectory(options.Out);
        var stamp = DateTime.UtcNow.ToString("yyyy-MM-dd-HHmm", CultureInfo.InvariantCulture);
        var markdown = new StringBuilder();
        markdown.AppendLine(CultureInfo.InvariantCulture, $"# Load report {stamp} UTC");
        markdown.AppendLine();
        var setting = string.Create(CultureInfo.InvariantCulture,
            $"`benchmarks/load.sh` on {Environment.ProcessorCount} cores; {options.Seconds} s per phase, {options.Tasks} tasks, {options.HubClients} hub clients.");
        markdown.AppendLine(setting + " Ratios are to a baseline measured in the same run (named in the row); the app ran as a child process with its "
            + "default settings, rate limits off, logging at Warning; the load generator is this program, on the same machine. "
            + $"*Server CPU* is the CPU time the serving process (app or baseline) used per request or run during the phase; *busy* is how many of the machine's {Environment.ProcessorCount} cores "
            + "were in use (server, database, load generator): a phase with every core busy is bound by CPU, and the server's CPU per request says how far its rate can go here.");
        foreach (var section in _rows.Select(r => r.Section).Distinct())
        {
            markdown.AppendLine();
            markdown.AppendLine(CultureInfo.InvariantCulture, $"## {section}");
            markdown.AppendLine();
            markdown.AppendLine("| what | connections | rate | p50 | p99 | server CPU | busy | ratio | target | note |");
            markdown.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |");
            foreach (var (_, m) in _rows.Where(r => r.Section == section))
            {
                var (ratio, target) = RatioAndTarget(section, m);
                markdown.AppendLine(CultureInfo.InvariantCulture,
                    $"| {m.What} | {(m.Connections == 0 ? "" : m.Connections)} | {m.Rate:0}/s | {Ms(m.P50Ms)} | {Ms(m.P99Ms)} | {CpuMs(m.ServerCpuMs)} | {Cores(m.MachineCores)} | {ratio} | {target} | {Note(m)} |");
            }
        }

        var path = Path.Combine(options.Out, $"load-{stamp}.md");
        await File.WriteAllTextAsync(path, markdown.ToString());
        await File.WriteAllTextAsync(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(
            _rows.Select(r => new { r.Section, r.Measurement.What, r.Measurement.Connections, r.Measurement.Requests, r.Measurement.Errors, r.Measurement.Seconds,
                Rate = r.Measurement.Rate, r.Measurement.P50Ms, r.Measurement.P99Ms, r.Measurement.ServerCpuMs, r.Measurement.MachineCores, r.Measurement.Note }),
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        return path;
    }

    private (string Ratio, string Target) RatioAndTarget(string section, Measurement m)
    {
        Measurement? Find(string s, string prefix, int connections) =>
            _rows.Where(r => r.Section == s && r.Measurement.What.StartsWith(prefix, StringComparison.Ordinal) && r.Measurement.Connections == connections)
                .Select(r => r.Measurement).FirstOrDefault();
        string Of(Measurement? baseline, string name) => baseline is null ? "" : $"{m.Rate / baseline.Rate:0.00}× {name}";

        return m.What switch
        {
            var w when w.StartsWith("commit floor", StringComparison.Ordinal) => (Of(Find("baseline", "bare Kestrel: read JSON", 16), "bare 202 (16)"), ""),
            var w when w.StartsWith("POST /api/executions", StringComparison.Ordinal) => (Of(Find(section, "commit floor", m.Connections), $"floor ({m.Connections})"),
                m.Connections switch { 16 => "≥ 0.80× floor, p99 ≤ 100 ms", 1 => "p99 ≤ 25 ms", _ => "" }),
            var w when w.StartsWith("starts, until", StringComparison.Ordinal) || w.StartsWith("continuations", StringComparison.Ordinal) =>
                (Of(Find(section, "commit floor", 16), "floor (16)"), "≥ 0.50× floor"),
            var w when w.StartsWith("GET /api/executions", StringComparison.Ordinal) => (Of(Find("baseline", "bare Kestrel GET", m.Connections), $"bare GET ({m.Connections})"),
                m.Connections == 1 ? "≥ 0.25× bare GET, p99 ≤ 5 ms" : "≥ 0.25× bare GET"),
            var w when w.StartsWith("decision → `resumed`", StringComparison.Ordinal) => ("", "p50 ≤ 20 ms, p99 ≤ 100 ms (500 clients)"),
            _ => ("", ""),
        };
    }

    private static string Line(Measurement m) =>
        $"{m.What} ×{m.Connections}: {m.Rate:0}/s, p50 {Ms(m.P50Ms)}, p99 {Ms(m.P99Ms)}, {m.Requests} ok, {m.Errors} errors in {m.Seconds:0.0} s"
        + (double.IsNaN(m.ServerCpuMs) ? "" : $", server CPU {CpuMs(m.ServerCpuMs)}, {Cores(m.MachineCores)} cores busy") + (m.Note is null ? "" : $" ({m.Note})");

    private static string CpuMs(double ms) => double.IsNaN(ms) ? "" : ms < 0.1 ? $"{ms * 1000:0} µs" : $"{ms:0.00} ms";

    private static string Cores(double cores) => double.IsNaN(cores) ? "" : $"{cores:0.0}";

    private static string Ms(double ms) => double.IsNaN(ms) ? "" : ms < 10 ? $"{ms:0.0} ms" : $"{ms:0} ms";

    private static string Note(Measurement m) =>
        string.Join("; ", new[] { m.Errors > 0 ? $"{m.Errors} errors" : null, m.Note }.Where(n => n is not null));
}
