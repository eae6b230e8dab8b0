using System.Diagnostics;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// A scoped service (one that holds the scope's <see cref="AppDbContext"/>, like ResumePipeline) for
/// one call at a time from code that outlives a scope. A Blazor circuit's scope lives as long as the
/// browser tab, so a component that injected the service itself would keep one DbContext for hours:
/// tracked entities pile up, a failed save's changes linger for the next one, and two overlapping
/// event handlers would use it at once. Here each call gets a fresh scope, disposed when it returns.
/// </summary>
public sealed class PerCall<TService>(IServiceScopeFactory scopes)
    where TService : notnull
{
    public async Task<TResult> RunAsync<TResult>(Func<TService, Task<TResult>> work)
    {
        // A circuit's handlers run under its connection's request span (/_blazor, open as long as the tab): each call here
        // starts a trace of its own instead (an inbox answer and its continuation are one trace, as through the API). The
        // change stays in this call's flow: the caller's Activity.Current is untouched.
        Activity.Current = null;
        await using var scope = scopes.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<TService>());
    }
}
