namespace ApprovalStudio.Testing;

/// <summary>Waiting for something the app does in the background: ask every 100 ms until it is there or the time is up.</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, TimeSpan? timeout, Func<string> whatWasSeen)
        where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException(whatWasSeen());
    }

    public static Task<T> UntilAsync<T>(Func<T?> probe, TimeSpan? timeout, Func<string> whatWasSeen)
        where T : class =>
        UntilAsync(() => Task.FromResult(probe()), timeout, whatWasSeen);
}
