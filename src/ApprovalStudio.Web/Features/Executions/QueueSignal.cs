namespace ApprovalStudio.Web.Features.Executions;

/// <summary>Wakes the worker at once when this process enqueued work, instead of waiting for its next poll.</summary>
/// <remarks>Not sealed: each background loop has its own signal type (see NotificationSignal).</remarks>
public class QueueSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        await _signal.WaitAsync(timeout, cancellationToken);
}
