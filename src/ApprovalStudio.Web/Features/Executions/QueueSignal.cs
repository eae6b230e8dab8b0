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

    /// <summary>
    /// The loop of a durable-queue drainer: runs <paramref name="pass"/> (true when it found work) again at once
    /// while there is work, else after the poll interval or this signal; a failed pass is reported and the loop goes on.
    /// </summary>
    public async Task RunLoopAsync(Func<CancellationToken, Task<bool>> pass, TimeSpan pollInterval, Action<Exception> failed, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                busy = await pass(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failed(ex);
            }

            if (!busy)
            {
                try
                {
                    await WaitAsync(pollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
