namespace ApprovalStudio.Testing;

/// <summary>Settings for tests whose http nodes call a server of the test on loopback (blocked by default).</summary>
public static class LoopbackTargets
{
    public static Dictionary<string, string?> Allowed => new() { ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32" };
}
