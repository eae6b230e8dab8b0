using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Fluid;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>What a message is about: one task, for one recipient, with the link that answers it.</summary>
public sealed record MessageSubject(
    TaskRecord Task, ExecutionRecord Run, string RecipientUserId, string RecipientName, string? RecipientEmail, string Link, bool Reminder);

public sealed record EmailMessage(string Subject, string Html, string Text);

public sealed record SlackMessage(string Text, JsonArray Blocks);

/// <summary>
/// The message templates (Liquid, rendered with Fluid): built-in defaults that a tenant may replace one by one
/// (<c>/api/message-templates</c>). Values from the run are escaped for where they land — HTML for the email
/// body, Slack's &amp;/&lt;/&gt; for Slack text, and JSON strings inside the blocks — so a title or an input
/// cannot add links, markup or blocks. A tenant's template that fails at send time falls back to the default.
/// </summary>
public sealed class MessageTemplates(AppDbContext db, TimeProvider clock, ILogger<MessageTemplates> log)
{
    public const string EmailSubject = "email.subject";
    public const string EmailHtml = "email.html";
    public const string EmailText = "email.text";
    public const string SlackText = "slack.text";
    public const string SlackBlocks = "slack.blocks";

    public const int MaxSourceLength = 20_000;
    public const string SourceRequired = "source is the template's Liquid text.";

    private static readonly FluidParser Parser = new();

    // Dictionaries only in the model: templates reach nothing but the values given to them.
    private static readonly TemplateOptions Options = new() { MaxSteps = 20_000, MaxRecursion = 20 };

    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>
    {
        [EmailSubject] = "{% if reminder %}Reminder: {% endif %}{{ task.title }}",
        [EmailText] = """
            Hello {{ recipient.name }},

            {% if reminder %}This is still waiting for your answer{% else %}A workflow is waiting for your answer{% endif %}: {{ task.title }}
            Workflow {{ workflow.key }}, started by {{ run.startedBy }}.
            {% if task.tally %}Votes so far: {{ task.tally }}.
            {% endif %}{% if task.expiresAt %}Answer before {{ task.expiresAt }}.
            {% endif %}
            Open it to answer: {{ link }}

            This link is for you alone. Opening it decides nothing: you answer on the page.
            """,
        [EmailHtml] = """
            <!DOCTYPE html>
            <html><body style="font-family: sans-serif; line-height: 1.5">
            <p>Hello {{ recipient.name }},</p>
            <p>{% if reminder %}This is still waiting for your answer{% else %}A workflow is waiting for your answer{% endif %}:</p>
            <p style="font-size: 1.2em"><strong>{{ task.title }}</strong></p>
            <p>Workflow {{ workflow.key }}, started by {{ run.startedBy }}.{% if task.expiresAt %} Answer before {{ task.expiresAt }}.{% endif %}</p>
            {% if task.tally %}<p>Votes so far: {{ task.tally }}.</p>{% endif %}
            <p><a href="{{ link }}" style="display: inline-block; padding: 8px 16px; background: #3b5bdb; color: #fff; text-decoration: none; border-radius: 4px">Open the {{ task.kind }}</a></p>
            <p style="color: #666; font-size: 0.9em">This link is for you alone. Opening it decides nothing: you answer on the page.</p>
            </body></html>
            """,
        [SlackText] = "{% if reminder %}Reminder: {% endif %}{{ task.title }}",
        [SlackBlocks] = """
            [
              {"type": "section", "text": {"type": "mrkdwn", "text": "{% if reminder %}:alarm_clock: Reminder: {% endif %}*{{ task.title }}*"}},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "{{ workflow.key }} · started by {{ run.startedBy }}{% if task.expiresAt %} · answer before {{ task.expiresAt }}{% endif %}"}]}
            ]
            """,
    };

    public static IReadOnlyList<string> Names { get; } = [.. Defaults.Keys];

    private static readonly Dictionary<string, IFluidTemplate> ParsedDefaults = Defaults.ToDictionary(d => d.Key, d => Parser.Parse(d.Value));

    public async Task<EmailMessage> EmailAsync(MessageSubject subject, CancellationToken cancellationToken)
    {
        var sources = await SourcesAsync(subject.Task.TenantId, cancellationToken);
        var model = Model(subject);
        var title = OwnOrDefault(sources, EmailSubject, subject.Task.TenantId, t => Text(EmailSubject, t, model));
        return new EmailMessage(
            string.Join(' ', title.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)),
            OwnOrDefault(sources, EmailHtml, subject.Task.TenantId, t => Text(EmailHtml, t, model)),
            OwnOrDefault(sources, EmailText, subject.Task.TenantId, t => Text(EmailText, t, model)));
    }

    public async Task<SlackMessage> SlackAsync(MessageSubject subject, CancellationToken cancellationToken)
    {
        var sources = await SourcesAsync(subject.Task.TenantId, cancellationToken);
        var model = Model(subject);
        return new SlackMessage(
            OwnOrDefault(sources, SlackText, subject.Task.TenantId, t => Text(SlackText, t, model)),
            OwnOrDefault(sources, SlackBlocks, subject.Task.TenantId, t => Blocks(t, model)));
    }

    /// <summary>The tenant's templates: its own where it has one, else the default.</summary>
    public async Task<List<MessageTemplateView>> ListAsync(string tenant, CancellationToken cancellationToken)
    {
        var own = await SourcesAsync(tenant, cancellationToken);
        return [.. Names.Select(n => own.TryGetValue(n, out var source) ? new MessageTemplateView(n, source, false) : new MessageTemplateView(n, Defaults[n], true))];
    }

    /// <summary>Saves the tenant's own version of a template once it is checked (<see cref="Check"/>); a problem saves nothing.</summary>
    /// <returns>The saved template with its sample rendering, or what is wrong with the source.</returns>
    public async Task<(MessageTemplateView? Saved, string? Problem)> SaveAsync(
        string tenant, string userId, string name, string? source, CancellationToken cancellationToken)
    {
        if (!Defaults.ContainsKey(name))
        {
            throw new ArgumentException($"There is no template '{name}'.", nameof(name));
        }

        if (string.IsNullOrWhiteSpace(source))
        {
            return (null, SourceRequired);
        }

        if (source.Length > MaxSourceLength)
        {
            return (null, $"source is at most {MaxSourceLength} characters.");
        }

        var (preview, problem) = Check(name, source);
        if (problem is not null)
        {
            return (null, problem);
        }

        var row = await db.MessageTemplates.SingleOrDefaultAsync(t => t.TenantId == tenant && t.Name == name, cancellationToken);
        if (row is null)
        {
            row = new MessageTemplateRecord { TenantId = tenant, Name = name, Source = source, UpdatedBy = userId };
            db.MessageTemplates.Add(row);
        }

        row.Source = source;
        row.UpdatedBy = userId;
        row.UpdatedAt = clock.GetUtcNow().UtcDateTime;
        await db.SaveChangesAsync(cancellationToken);
        return (new MessageTemplateView(name, source, false, preview), null);
    }

    /// <summary>Goes back to the default for one template.</summary>
    public Task ResetAsync(string tenant, string name, CancellationToken cancellationToken) =>
        db.WriteAsync(ct => db.MessageTemplates.Where(t => t.TenantId == tenant && t.Name == name).ExecuteDeleteAsync(ct), cancellationToken);

    /// <summary>Checks a tenant's template before it is saved: it parses, renders for a sample task, and (blocks) makes a JSON array of blocks.</summary>
    /// <returns>The sample rendering, or the problem.</returns>
    public static (string? Preview, string? Problem) Check(string name, string source)
    {
        if (!Parser.TryParse(source, out var template, out var error))
        {
            return (null, $"The template does not parse: {error}");
        }

        var model = Model(Sample());
        try
        {
            return (name == SlackBlocks
                ? Blocks(template, model).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
                : Text(name, template, model), null);
        }
        catch (Exception ex) when (IsRenderFailure(ex))
        {
            return (null, $"The template does not render for a sample task: {ex.Message}");
        }
    }

    private async Task<Dictionary<string, string>> SourcesAsync(string tenant, CancellationToken cancellationToken) =>
        await db.MessageTemplates.AsNoTracking().Where(t => t.TenantId == tenant).ToDictionaryAsync(t => t.Name, t => t.Source, cancellationToken);

    /// <summary>Renders the tenant's own template when it has one that works, else the default.</summary>
    private T OwnOrDefault<T>(Dictionary<string, string> sources, string name, string tenant, Func<IFluidTemplate, T> render)
    {
        if (sources.TryGetValue(name, out var own))
        {
            try
            {
                if (Parser.TryParse(own, out var template, out var error))
                {
                    return render(template);
                }

                NotificationLog.TemplateFellBack(log, tenant, name, error);
            }
            catch (Exception ex) when (IsRenderFailure(ex))
            {
                NotificationLog.TemplateFellBack(log, tenant, name, ex.Message);
            }
        }

        return render(ParsedDefaults[name]);
    }

    private static bool IsRenderFailure(Exception ex) => ex is InvalidOperationException or JsonException or FormatException;

    /// <summary>The one place that says how each text template's values are escaped: HTML for the email body, Slack's for Slack text.</summary>
    private static string Text(string name, IFluidTemplate template, Dictionary<string, object?> model) => name switch
    {
        SlackText => Render(template, Escape(model, SlackEscape), NullEncoder.Default),
        EmailHtml => Render(template, model, HtmlEncoder.Default),
        _ => Render(template, model, NullEncoder.Default),
    };

    /// <summary>Renders the blocks template with every value escaped for Slack and for a JSON string, and checks the result is an array of blocks.</summary>
    private static JsonArray Blocks(IFluidTemplate template, Dictionary<string, object?> model)
    {
        var json = Render(template, Escape(model, s => JsonEncodedText.Encode(SlackEscape(s), JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString()), NullEncoder.Default);
        var blocks = JsonNode.Parse(json) as JsonArray
            ?? throw new FormatException("The blocks template must render a JSON array of Slack blocks.");
        if (blocks.Any(b => b is not JsonObject o || o["type"] is not JsonValue))
        {
            throw new FormatException("Every Slack block is a JSON object with a \"type\".");
        }

        return blocks;
    }

    private static string Render(IFluidTemplate template, Dictionary<string, object?> model, TextEncoder encoder)
    {
        var context = new TemplateContext(Options);
        foreach (var (key, value) in model)
        {
            context.SetValue(key, value);
        }

        return template.Render(context, encoder);
    }

    /// <summary>Slack's own escaping for text: &amp;, &lt; and &gt; (so no value can make a link or a mention).</summary>
    public static string SlackEscape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    private static Dictionary<string, object?> Escape(Dictionary<string, object?> model, Func<string, string> escape) =>
        model.ToDictionary(kv => kv.Key, kv => EscapeValue(kv.Value, escape));

    private static object? EscapeValue(object? value, Func<string, string> escape) => value switch
    {
        string s => escape(s),
        Dictionary<string, object?> d => Escape(d, escape),
        List<object?> l => l.Select(v => EscapeValue(v, escape)).ToList(),
        _ => value,
    };

    private static Dictionary<string, object?> Model(MessageSubject s) => new()
    {
        ["task"] = new Dictionary<string, object?>
        {
            ["title"] = s.Task.Title,
            ["kind"] = KindName(s.Task.Kind),
            ["nodeId"] = s.Task.NodeId,
            ["createdAt"] = Format(s.Task.CreatedAt),
            ["expiresAt"] = s.Task.ExpiresAt is { } expires ? Format(expires) : null,
            // An approval being voted on (issue 15): "1 of 2 approvals; waiting for legal" (Slack's messages show it under their blocks).
            ["tally"] = Executions.Votes.Describe(s.Task.TallyJson),
        },
        ["workflow"] = new Dictionary<string, object?> { ["key"] = s.Task.WorkflowKey, ["version"] = s.Task.WorkflowVersion },
        ["run"] = new Dictionary<string, object?>
        {
            ["id"] = s.Run.Id,
            ["startedBy"] = s.Run.CreatedBy,
            ["input"] = Plain(JsonNode.Parse(s.Run.InputJson)),
        },
        ["recipient"] = new Dictionary<string, object?> { ["userId"] = s.RecipientUserId, ["name"] = s.RecipientName, ["email"] = s.RecipientEmail },
        ["link"] = s.Link,
        ["reminder"] = s.Reminder,
    };

    public static string KindName(string kind) => kind switch
    {
        "Approval" => "approval",
        "UserForm" => "form",
        "Review" => "review",
        _ => kind.ToLowerInvariant(),
    };

    /// <summary>How messages write a time.</summary>
    public static string Format(DateTime at) => at.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>JSON as dictionaries, lists and primitives: what Liquid can walk.</summary>
    private static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(kv => kv.Key, kv => Plain(kv.Value)),
        JsonArray a => a.Select(Plain).ToList(),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<decimal>(out var d) => d,
        _ => node.ToJsonString(),
    };

    private static MessageSubject Sample()
    {
        var now = new DateTime(2026, 1, 5, 9, 0, 0, DateTimeKind.Utc);
        var task = new TaskRecord
        {
            ResId = "sample", ExecutionId = "sample-run", TenantId = "sample", WorkflowKey = "expense", WorkflowVersion = 1, NodeId = "manager",
            StackJson = "[]", StackKey = string.Empty, Kind = "Approval", Title = "Approve 1,250 EUR <for> \"Q1 offsite\" & travel",
            Status = TaskStatuses.Pending, CreatedAt = now, ExpiresAt = now.AddDays(1),
            TallyJson = """{"approvals":1,"rejections":0,"required":2,"waitingFor":["legal"]}""",
        };
        var run = new ExecutionRecord
        {
            Id = "sample-run", TenantId = "sample", WorkflowKey = "expense", WorkflowVersion = 1, Status = "Suspended", CreatedBy = "alice",
            InputJson = """{"amount":1250,"reason":"Q1 offsite","lines":[{"what":"train","eur":250}]}""",
        };
        return new MessageSubject(task, run, "mia", "Mia Manager", "mia@example.com", "https://approvals.example.com/links/sample", Reminder: false);
    }
}
