using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Waits on one run's events as <see cref="ExecutionEvents"/> hears them (from this instance's worker, or another's
/// through Redis), for routes that answer with the run's state after handing it work. Start it before reading the run,
/// so an event committed in between is not missed. If an event never arrives (a Redis hiccup), the watch still wakes
/// after a second (<see cref="DefaultFallback"/>) and the caller reads the stored state again.
/// </summary>
public sealed class RunWatch : IDisposable
{
    /// <summary>The longest a watch sleeps without an event before its caller looks again, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultFallback = TimeSpan.FromSeconds(1);

    private readonly ExecutionEvents _events;
    private readonly string _executionId;
    private readonly TimeSpan _fallback;
    private readonly SemaphoreSlim _heard = new(0);

    private RunWatch(ExecutionEvents events, string executionId, TimeSpan fallback)
    {
        _events = events;
        _executionId = executionId;
        _fallback = fallback;
        _events.ExecutionEvent += OnEvent;
    }

    /// <param name="fallback">How long to sleep without an event (<see cref="DefaultFallback"/>; infinite: only events wake it).</param>
    public static RunWatch Start(ExecutionEvents events, string executionId, TimeSpan? fallback = null) =>
        new(events, executionId, fallback ?? DefaultFallback);

    /// <summary>
    /// Completes when the run has a new event (or several: they are taken together), after the fallback
    /// without one (a safety net on real time, not a deadline), or when <paramref name="cancellationToken"/> is cancelled
    /// (then it throws).
    /// </summary>
    public async Task NextAsync(CancellationToken cancellationToken)
    {
        using var fallback = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        fallback.CancelAfter(_fallback);
        try
        {
            await _heard.WaitAsync(fallback.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return;
        }

        while (_heard.CurrentCount > 0)
        {
            await _heard.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Reads the run until it waits or ends (not Running, not Resuming), or <paramref name="wait"/> passes on the clock:
    /// the answer of routes that hand a run work and answer with its state.
    /// </summary>
    public static async Task<ExecutionRecord> UntilSettledAsync(
        AppDbContext db, ExecutionEvents events, TimeProvider clock, string executionId, TimeSpan wait, CancellationToken cancellationToken,
        TimeSpan? fallback = null)
    {
        using var watch = Start(events, executionId, fallback);
        using var bound = new CancellationTokenSource(wait, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        while (true)
        {
            var run = await db.Executions.AsNoTracking().SingleAsync(e => e.Id == executionId, cancellationToken);
            if (run.Status is not (ExecutionStatuses.Running or ExecutionStatuses.Resuming) || bound.IsCancellationRequested)
            {
                return run;
            }

            try
            {
                await watch.NextAsync(linked.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The bound passed: answer with the state as it is now.
            }
        }
    }

    public void Dispose()
    {
        _events.ExecutionEvent -= OnEvent;
        _heard.Dispose();
    }

    private void OnEvent(ExecutionEventMessage message)
    {
        if (message.ExecutionId == _executionId)
        {
            try
            {
                _heard.Release();
            }
            catch (ObjectDisposedException)
            {
                // Raised on another thread as the watch ended.
            }
        }
    }
}
