using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace ApprovalStudio.Web.Features.Notifications;

public sealed partial class MessagesPage
{
    private List<MessageTemplateView>? _templates;
    private readonly Dictionary<string, string?> _drafts = new();
    private readonly Dictionary<string, string> _problems = new();
    private readonly Dictionary<string, string> _previews = new();
    private Actor _actor = default!;
    private bool _busy;

    // A scope (and DbContext) per operation, not one for the circuit's lifetime.
    [Inject]
    private PerCall<MessageTemplates> Templates { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        _actor = Actor.From((await AuthenticationState).User)!;
        await LoadAsync();
    }

    /// <summary>Reads the templates; the editor of <paramref name="only"/> (all at first) shows what is stored, the others keep their unsaved edits.</summary>
    private async Task LoadAsync(string? only = null)
    {
        _templates = await Templates.RunAsync(t => t.ListAsync(_actor.TenantId, CancellationToken.None));
        foreach (var template in _templates.Where(t => only is null || t.Name == only))
        {
            _drafts[template.Name] = template.Source;
        }
    }

    private async Task SaveAsync(string name)
    {
        _busy = true;
        try
        {
            _previews.Remove(name);
            var (saved, problem) = await Templates.RunAsync(t => t.SaveAsync(_actor.TenantId, _actor.UserId, name, _drafts[name], CancellationToken.None));
            if (saved is null)
            {
                _problems[name] = problem!;
                return;
            }

            _problems.Remove(name);
            await LoadAsync(name);
            _previews[name] = saved.Preview!;
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task ResetAsync(string name)
    {
        _busy = true;
        try
        {
            await Templates.RunAsync(async t => { await t.ResetAsync(_actor.TenantId, name, CancellationToken.None); return true; });
            _problems.Remove(name);
            _previews.Remove(name);
            await LoadAsync(name);
        }
        finally
        {
            _busy = false;
        }
    }
}
