using System.Diagnostics;
using System.Globalization;

namespace ApprovalStudio.Load;

/// <summary>
/// CPU time from /proc: what a phase cost the server per operation, and how busy the whole machine was meanwhile. When
/// the machine's cores are all busy a phase is bound by CPU, and the server's CPU per operation says how far its rate can
/// go on these cores; when they are not, it waits on something else (the disk's commit, a lock, a round trip).
/// </summary>
public static class Cpu
{
    /// <summary>CPU time a process has used (user + system).</summary>
    public static double ProcessSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries); // the name may hold ')'
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>CPU time the whole machine has used: user, nice, system, irq and softirq (guest time is in user already; idle, iowait and steal are not use).</summary>
    public static double MachineSeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / 100.0;
    }

    /// <summary>Runs a phase and adds to its measurement the server's CPU per operation and the machine's busy cores.</summary>
    public static async Task<Measurement> MeasureAsync(int serverPid, Func<Task<Measurement>> phase)
    {
        var (server, machine) = (ProcessSeconds(serverPid), MachineSeconds());
        var clock = Stopwatch.StartNew();
        var measured = await phase();
        var seconds = clock.Elapsed.TotalSeconds;
        return measured with
        {
            ServerCpuMs = measured.Requests == 0 ? double.NaN : (ProcessSeconds(serverPid) - server) * 1000 / measured.Requests,
            MachineCores = (MachineSeconds() - machine) / seconds,
        };
    }
}
