using System.Globalization;
using System.Xml;

namespace ApprovalStudio.Web.Infrastructure.Auth;

/// <summary>
/// <c>issue-token --tenant T --user U [--name N] [--groups g1,g2] [--roles admin] [--lifetime 1h]</c>:
/// prints a JWT of the local issuer, alone on stdout (CONTRACT §1).
/// </summary>
public static class IssueTokenCommand
{
    public const string Name = "issue-token";

    private const string Usage =
        "usage: issue-token --tenant T --user U [--name N] [--groups g1,g2] [--roles admin] [--lifetime 1h|30m|2d|PT1H]";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                stderr.WriteLine($"issue-token: unexpected '{args[i]}'.\n{Usage}");
                return 2;
            }

            options[args[i][2..]] = args[++i];
        }

        var unknown = options.Keys.Except(["tenant", "user", "name", "groups", "roles", "lifetime"]).ToList();
        if (unknown.Count > 0 || !options.ContainsKey("tenant") || !options.ContainsKey("user"))
        {
            stderr.WriteLine((unknown.Count > 0 ? $"issue-token: unknown option --{unknown[0]}.\n" : "issue-token: --tenant and --user are required.\n") + Usage);
            return 2;
        }

        TimeSpan lifetime;
        try
        {
            lifetime = options.TryGetValue("lifetime", out var text) ? ParseLifetime(text) : TimeSpan.FromHours(1);
        }
        catch (FormatException ex)
        {
            stderr.WriteLine($"issue-token: {ex.Message}\n{Usage}");
            return 2;
        }

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        var dataDirectory = AppOptions.ResolveDataDirectory(builder.Configuration, builder.Environment.ContentRootPath);
        var issuer = new TokenIssuer(SigningKeyStore.Resolve(builder.Configuration, dataDirectory), TimeProvider.System);
        stdout.WriteLine(issuer.Issue(new TokenRequest(options["tenant"], options["user"])
        {
            Name = options.GetValueOrDefault("name"),
            Groups = List(options.GetValueOrDefault("groups")),
            Roles = List(options.GetValueOrDefault("roles")),
            Lifetime = lifetime,
        }));
        return 0;
    }

    public static TimeSpan ParseLifetime(string text)
    {
        if (text.StartsWith('P'))
        {
            return Positive(XmlConvert.ToTimeSpan(text), text);
        }

        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            return Positive(text[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => throw new FormatException($"--lifetime '{text}': use a number with s, m, h or d, or an ISO 8601 duration."),
            }, text);
        }

        throw new FormatException($"--lifetime '{text}': use a number with s, m, h or d, or an ISO 8601 duration.");
    }

    private static TimeSpan Positive(TimeSpan value, string text) =>
        value > TimeSpan.Zero ? value : throw new FormatException($"--lifetime '{text}' must be positive.");

    private static string[] List(string? text) =>
        text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}
