using ArchUnitNET.Domain;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace ApprovalStudio.Web.Tests.Architecture;

/// <summary>
/// The arrows of docs/architecture.md: features sit in layers and reach only down (Workflows and People at the bottom,
/// then the runtime, then the resume pipeline, then notifications, then the channels and pages); channels do not reach
/// into each other except where written below; Infrastructure reaches into no feature. A type that breaks an arrow fails
/// here, named with the dependency.
/// </summary>
public sealed class DependencyTests
{
    private const string Root = "ApprovalStudio.Web";

    /// <summary>Lowest first; a feature may use those of its own layer's list position and below (see <see cref="Sideways"/>).</summary>
    private static readonly string[][] Layers =
    [
        ["Workflows", "People"],
        ["Executions"],
        ["Resume"],
        ["Notifications"],
        ["Account", "ApiKeys", "Cluster", "DeepLinks", "Demo", "Dispatch", "Health", "Hub", "Inbox", "Operations", "Retention", "ResumeFrom", "Slack", "Tasks", "Webhooks"],
    ];

    /// <summary>The only arrows between features of one layer, and why.</summary>
    private static readonly HashSet<(string From, string To)> Sideways =
    [
        ("DeepLinks", "Inbox"), // a deep link's page shows the inbox's answer components (approval, form, review)
        ("Account", "Demo"),    // the sign-in page lists the demo people when demo data is on
        ("Operations", "Cluster"), // the Operations page lists the instances by their heartbeats
        ("Operations", "Inbox"),   // ... and says channels and durations in the inbox's plain words
    ];

    private static readonly ArchUnitNET.Domain.Architecture App = new ArchLoader().LoadAssemblies(typeof(Program).Assembly).Build();

    public static TheoryData<string, string> ForbiddenArrows()
    {
        var data = new TheoryData<string, string>();
        var level = Layers.SelectMany((names, i) => names.Select(n => (n, i))).ToDictionary(x => x.n, x => x.i);
        foreach (var (from, fromLevel) in level)
        {
            foreach (var (to, toLevel) in level)
            {
                if (from != to && (toLevel > fromLevel || (toLevel == fromLevel && !Sideways.Contains((from, to)))))
                {
                    data.Add(from, to);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ForbiddenArrows))]
    public void A_feature_does_not_reach_up_or_sideways(string from, string to) =>
        Types().That().ResideInNamespaceMatching(Feature(from)).Should()
            .NotDependOnAny(Types().That().ResideInNamespaceMatching(Feature(to)))
            .Because($"{from} sits below or beside {to} (docs/architecture.md)")
            .Check(App);

    [Fact]
    public void Infrastructure_reaches_into_no_feature_and_no_page() =>
        Types().That().ResideInNamespaceMatching($@"^{Root}\.Infrastructure(\..+)?$").Should()
            .NotDependOnAny(Types().That().ResideInNamespaceMatching($@"^{Root}\.(Features|Components)(\..+)?$"))
            .Because("infrastructure serves the features; each feature registers its own services")
            .Check(App);

    [Fact]
    public void Every_feature_folder_has_a_place_in_the_layers()
    {
        var placed = Layers.SelectMany(l => l).ToHashSet();
        var features = App.Namespaces.Select(n => n.FullName).Where(n => n.StartsWith($"{Root}.Features.", StringComparison.Ordinal))
            .Select(n => n[$"{Root}.Features.".Length..].Split('.')[0]).ToHashSet();
        Assert.Empty(features.Except(placed));
        Assert.Empty(placed.Except(features));
    }

    private static string Feature(string name) => $@"^{Root}\.Features\.{name}(\..+)?$";
}
