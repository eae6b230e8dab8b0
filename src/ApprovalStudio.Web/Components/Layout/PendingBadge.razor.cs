using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace ApprovalStudio.Web.Components.Layout;

/// <summary>The app bar's inbox button with how many tasks wait for the signed-in person, as the inbox feed keeps the count.</summary>
public sealed partial class PendingBadge
{
    private int _count;
    private Actor? _actor;
    private IDisposable? _subscription;

    [Inject]
    private InboxFeed Feed { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || AuthenticationState is null)
        {
            return;
        }

        _actor = Actor.From((await AuthenticationState).User);
        if (_actor is not null)
        {
            _subscription = Feed.Subscribe(_actor, OnFeed);
            _count = await Feed.CountAsync(_actor, CancellationToken.None);
            StateHasChanged();
        }
    }

    /// <summary>A batch that touches this person's tasks costs the badge no query: the feed has the figure.</summary>
    private void OnFeed(IReadOnlyList<InboxUpdate> updates)
    {
        if (_actor is { } actor)
        {
            _ = InvokeAsync(() =>
            {
                var count = Feed.KnownCount(actor) ?? _count;
                if (count != _count)
                {
                    _count = count;
                    StateHasChanged();
                }
            });
        }
    }

    public void Dispose() => _subscription?.Dispose();
}
