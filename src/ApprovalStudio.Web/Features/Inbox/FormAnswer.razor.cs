using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// The answer to a form task. The server's errors (<see cref="Errors"/>, keyed by field; "$" for the whole form) are
/// given to MudBlazor's own validation rather than to its <c>Error</c>/<c>ErrorText</c> parameters: a field keeps
/// the error state it computed itself once the person typed, so parameters that arrived again with the same values
/// were ignored and the second submit's errors never showed. A server error stays at its field until its value changes.
/// </summary>
public sealed partial class FormAnswer
{
    private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, object> _rules = new(StringComparer.Ordinal);
    private Dictionary<string, object?> _submitted = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, string[]> _server = new Dictionary<string, string[]>();
    private IReadOnlyList<FormField> _fields = [];
    private JsonObject? _schema;
    private MudForm? _form;
    private bool _showSummary;
    private bool _revalidate;

    [Parameter, EditorRequired]
    public JsonObject Schema { get; set; } = default!;

    [Parameter]
    public EventCallback<JsonObject> OnSubmit { get; set; }

    [Parameter]
    public IReadOnlyDictionary<string, string[]> Errors { get; set; } = new Dictionary<string, string[]>();

    [Parameter]
    public bool Busy { get; set; }

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    protected override void OnParametersSet()
    {
        if (!ReferenceEquals(Schema, _schema))
        {
            _schema = Schema;
            _fields = FormField.From(Schema);
            _rules.Clear();
        }

        // Every answer of the server is a new dictionary, so the same errors twice still show again.
        if (!ReferenceEquals(Errors, _server))
        {
            _server = Errors;
            _showSummary = Errors.Count > 0;
            _revalidate = Errors.Count > 0;
        }
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (_revalidate && !Busy && _form is not null)
        {
            _revalidate = false;
            await _form.ValidateAsync();
        }
    }

    /// <summary>What is wrong with the field now: the server's error while the value is still the one it judged, else the schema's limits.</summary>
    private string? Message(FormField field, object? value) =>
        _server.TryGetValue(field.Name, out var messages) && messages.Length > 0 && Same(_submitted.GetValueOrDefault(field.Name), value)
            ? string.Join(" ", messages)
            : field.Check(value);

    /// <summary>The summary's entries: every field's problem (a missing required value too), then the whole form's.</summary>
    private List<(FormField? Field, string Message)> Problems()
    {
        var problems = new List<(FormField?, string)>();
        foreach (var field in _fields)
        {
            var value = _values.GetValueOrDefault(field.Name);
            if ((field.Required && Empty(value) ? field.RequiredMessage : Message(field, value)) is { } message)
            {
                problems.Add((field, message));
            }
        }

        foreach (var (key, messages) in _server.Where(e => !_fields.Any(f => f.Name == e.Key)))
        {
            problems.AddRange(messages.Select(m => ((FormField?)null, key == "$" ? m : $"{key}: {m}")));
        }

        return problems;
    }

    private Func<T, string?> Rule<T>(FormField field)
    {
        if (!_rules.TryGetValue(field.Name, out var rule))
        {
            _rules[field.Name] = rule = new Func<T, string?>(value => Message(field, value));
        }

        return (Func<T, string?>)rule;
    }

    private void Set(string name, object? value) => _values[name] = value;

    private async Task FocusAsync(FormField field)
    {
        try
        {
            await JS.InvokeVoidAsync("approvalStudio.focusField", field.ElementId);
        }
        catch (JSDisconnectedException)
        {
        }
    }

    private static bool Empty(object? value) => value is null || (value is string s && string.IsNullOrWhiteSpace(s));

    private static bool Same(object? submitted, object? now) => Empty(submitted) ? Empty(now) : Equals(submitted, now);

    /// <summary>Only what was filled in: a missing required field is the server's to name, as for any channel.</summary>
    private Task SubmitAsync()
    {
        _submitted = new Dictionary<string, object?>(_values, StringComparer.Ordinal);
        var body = new JsonObject();
        foreach (var (name, value) in _values)
        {
            switch (value)
            {
                case null:
                case string s when string.IsNullOrWhiteSpace(s):
                    break;
                case bool b:
                    body[name] = b;
                    break;
                case long l:
                    body[name] = l;
                    break;
                case double d:
                    body[name] = d;
                    break;
                default:
                    body[name] = value.ToString();
                    break;
            }
        }

        return OnSubmit.InvokeAsync(body);
    }
}
