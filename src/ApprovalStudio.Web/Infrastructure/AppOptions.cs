using System.ComponentModel.DataAnnotations;

namespace ApprovalStudio.Web.Infrastructure;

/// <summary>The <c>App</c> section: where the app keeps its files and how it links to itself.</summary>
public sealed class AppOptions
{
    public const string SectionName = "App";

    /// <summary>Folder for the SQLite file and the generated signing key; relative to the content root.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>The base of every link the app sends (emails, Slack); empty means "the request's own host".</summary>
    [Url]
    public string? PublicBaseUrl { get; set; }

    /// <summary>Seed the demo tenant's workflows when the database is empty.</summary>
    public bool SeedDemoData { get; set; } = true;

    /// <summary>The Redis connection (<c>Redis:Configuration</c>): set, it carries the hub's backplane and the inbox's changes between instances.</summary>
    public const string RedisKey = "Redis:Configuration";

    public static string ResolveDataDirectory(IConfiguration configuration, string contentRoot)
    {
        var folder = configuration[$"{SectionName}:{nameof(DataDirectory)}"];
        var path = Path.GetFullPath(Path.Combine(contentRoot, string.IsNullOrWhiteSpace(folder) ? "data" : folder));
        Directory.CreateDirectory(path);
        return path;
    }
}
